//! The demo district's grid boundaries, workers and a small register, made up but
//! deterministic: the same build always draws the same map.
//!
//! Shapes come from [`geometry::tile`]: a polygon around 郫都区 (lon 103.78–103.98,
//! lat 30.72–30.92) is cut into its 12 townships, each township into its communities, each
//! community into its grids. They look like a district, not like the real one.

use std::collections::{BTreeMap, HashMap};

use geo::{LineString, MultiPolygon, Polygon};

use crate::audit::Actor;
use crate::auth::{self, Role};
use crate::db::Conn;
use crate::error::Result;
use crate::ids::UserId;
use crate::orgs::model::{Org, OrgKind};
use crate::time::Timestamp;

use super::{model, store};

/// The demo grid the `wanggeyuan` account works in.
pub const DEMO_GRID: &str = "510117006001001";

fn region() -> Polygon<f64> {
    // An irregular octagon inside the bounding box, so the outline does not look like a frame.
    Polygon::new(
        LineString::from(vec![
            (103.80, 30.72),
            (103.93, 30.725),
            (103.98, 30.77),
            (103.975, 30.87),
            (103.92, 30.92),
            (103.82, 30.915),
            (103.78, 30.86),
            (103.785, 30.76),
            (103.80, 30.72),
        ]),
        vec![],
    )
}

async fn put(conn: &mut Conn<'_>, org: &Org, shape: &Polygon<f64>, now: Timestamp) -> Result<()> {
    let g = MultiPolygon::new(vec![shape.clone()]);
    let json = model::geometry_to_json(&g);
    store::upsert_boundary(
        conn,
        &store::NewBoundary {
            org_id: org.id,
            geojson: &json,
            bbox: model::bbox(&g),
            area_m2: geometry::area_m2(&g),
        },
        now,
        "系统:demo",
    )
    .await?;
    Ok(())
}

/// Draws boundaries for every township, community and grid of the demo district, and gives
/// 犀浦街道's grids their workers, a few tasks and a small register.
pub async fn load(
    conn: &mut Conn<'_>,
    actor: &Actor,
    by_code: &HashMap<String, Org>,
    password_hash: &str,
) -> Result<Vec<(String, String)>> {
    let now = Timestamp::now();
    let mut children: BTreeMap<&str, Vec<&Org>> = BTreeMap::new();
    for org in by_code.values() {
        if matches!(org.kind, OrgKind::Community | OrgKind::Grid) {
            let parent_code = match org.kind {
                OrgKind::Community => format!("{}000", &org.code[..9]),
                _ => org.code[..12].to_owned(),
            };
            if let Some(parent) = by_code.get(&parent_code) {
                children.entry(parent.code.as_str()).or_default().push(org);
            }
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.code.cmp(&b.code));
    }
    let mut townships: Vec<&Org> = by_code
        .values()
        .filter(|o| o.kind == OrgKind::Township)
        .collect();
    townships.sort_by(|a, b| a.code.cmp(&b.code));

    let township_cells = geometry::tile(region(), townships.len(), 510_117);
    for (i, (township, cell)) in townships.iter().zip(&township_cells).enumerate() {
        put(conn, township, cell, now).await?;
        let communities = children
            .get(township.code.as_str())
            .cloned()
            .unwrap_or_default();
        let community_cells = geometry::tile(cell.clone(), communities.len(), 1000 + i as u64);
        for (j, (community, ccell)) in communities.iter().zip(&community_cells).enumerate() {
            put(conn, community, ccell, now).await?;
            let grids = children
                .get(community.code.as_str())
                .cloned()
                .unwrap_or_default();
            let grid_cells =
                geometry::tile(ccell.clone(), grids.len(), 100_000 + (i * 1000 + j) as u64);
            for (grid, gcell) in grids.iter().zip(&grid_cells) {
                put(conn, grid, gcell, now).await?;
            }
        }
    }

    // Workers: accounts for three grids of 犀浦街道, named part-timers for the others. The two
    // extra accounts belong to their community, so a grid can be retired without them.
    let mut accounts = Vec::new();
    let mut assigned: HashMap<&str, UserId> = HashMap::new();
    if let Some(me) = super::store::worker_accounts_within(conn, "/")
        .await?
        .first()
    {
        assigned.insert(DEMO_GRID, me.id);
    }
    for (username, name, grid) in [
        ("wgy_xihe1", "任晓燕", "510117006002001"),
        ("wgy_xihe2", "孙建华", "510117006002002"),
    ] {
        if let Some(org) = by_code.get(&grid[..12]) {
            let id = auth::create_account_unchecked(
                conn,
                actor,
                username,
                name,
                org,
                &[Role::GridWorker],
                password_hash,
            )
            .await?;
            assigned.insert(grid, id);
            accounts.push((username.to_owned(), name.to_owned()));
        }
    }
    const PART_TIMERS: [&str; 12] = [
        "陈桂兰",
        "刘德明",
        "杨秀英",
        "黄志强",
        "赵丽华",
        "周建国",
        "吴淑芬",
        "徐国平",
        "孙玉梅",
        "马永刚",
        "朱红梅",
        "胡海燕",
    ];
    let mut xipu_grids: Vec<&Org> = by_code
        .values()
        .filter(|o| o.kind == OrgKind::Grid && o.code.starts_with("510117006"))
        .collect();
    xipu_grids.sort_by(|a, b| a.code.cmp(&b.code));
    for (k, grid) in xipu_grids.iter().enumerate() {
        if let Some(user) = assigned.get(grid.code.as_str()) {
            let name = super::store::worker_accounts_within(conn, "/")
                .await?
                .into_iter()
                .find(|a| a.id == *user)
                .map(|a| a.display_name)
                .unwrap_or_default();
            store::insert_assignment(
                conn,
                &store::NewAssignment {
                    grid_id: grid.id,
                    user_id: Some(*user),
                    worker_name: &name,
                    employment: "full_time",
                    duties: "信息采集、巡查走访、矛盾调解、隐患排查、政策宣传",
                },
                now,
                "系统:demo",
            )
            .await?;
        }
        store::insert_assignment(
            conn,
            &store::NewAssignment {
                grid_id: grid.id,
                user_id: None,
                worker_name: PART_TIMERS[k % PART_TIMERS.len()],
                employment: "part_time",
                duties: "协助巡查、楼栋信息报送",
            },
            now,
            "系统:demo",
        )
        .await?;
    }

    // A small register and two tasks for the demo grid.
    if let Some(grid) = by_code.get(DEMO_GRID) {
        let building = store::insert_building(
            conn,
            &store::NewBuilding {
                grid_id: grid.id,
                name: "玉龙小区 3 栋",
                address: "犀浦街道玉龙路 88 号",
                floors: Some(7),
                note: "",
            },
            now,
            "系统:demo",
        )
        .await?;
        for (head, phone, members, address) in [
            ("唐丽", "13980012345", 3, "玉龙路 88 号 3 栋 1 单元 201"),
            ("钟国强", "13547756120", 4, "玉龙路 88 号 3 栋 2 单元 502"),
            ("蒋淑华", "028-87861234", 1, "玉龙路 88 号 3 栋 1 单元 101"),
        ] {
            // Demo households carry no ID numbers: the demo has no key to seal them with.
            store::insert_household(
                conn,
                &store::NewHousehold {
                    grid_id: grid.id,
                    building_id: Some(building),
                    head_name: head,
                    id_number_enc: "",
                    id_number_masked: "",
                    phone,
                    members,
                    address,
                    note: "",
                },
                now,
                "系统:demo",
            )
            .await?;
        }
        for (kind, name, address, contact, phone) in [
            (
                "shop",
                "玉龙便民超市",
                "玉龙路 90 号",
                "罗红",
                "13688001122",
            ),
            (
                "construction_site",
                "玉龙片区道路改造工地",
                "玉龙路东段",
                "项目部",
                "028-87869999",
            ),
            (
                "school",
                "犀浦玉龙幼儿园",
                "玉龙路 120 号",
                "门卫室",
                "028-87865566",
            ),
        ] {
            store::insert_place(
                conn,
                &store::NewPlace {
                    grid_id: grid.id,
                    kind,
                    name,
                    address,
                    contact_name: contact,
                    contact_phone: phone,
                    note: "",
                },
                now,
                "系统:demo",
            )
            .await?;
        }
        for (title, detail) in [
            (
                "独居老人入户走访",
                "走访 3 栋独居老人，了解身体和生活情况，登记需求",
            ),
            ("燃气安全隐患排查", "沿街商铺燃气软管、报警器检查"),
        ] {
            store::insert_task(conn, grid.id, title, detail, "", now, "系统:demo").await?;
        }
    }
    Ok(accounts)
}
