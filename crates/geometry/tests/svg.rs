use geometry::svg::{Bucketing, SvgArea, SvgOptions, SvgPoint, render_heat_svg, render_svg};
use geometry::{LineString, MultiPolygon, Polygon};

fn square(x: f64, y: f64, size: f64) -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![
            (x, y),
            (x + size, y),
            (x + size, y + size),
            (x, y + size),
            (x, y),
        ]),
        vec![],
    )
}

fn view_box(svg: &str) -> (f64, f64) {
    let start = svg.find("viewBox=\"0 0 ").unwrap() + 13;
    let rest = &svg[start..];
    let end = rest.find('"').unwrap();
    let mut it = rest[..end].split(' ').map(|v| v.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn areas_points_titles_and_links_are_drawn_with_classes_only() {
    let mut holed = square(103.80, 30.80, 0.02);
    holed.interiors_push(square(103.805, 30.805, 0.005).exterior().clone());
    let a = MultiPolygon::new(vec![holed]);
    let b = MultiPolygon::new(vec![square(103.82, 30.80, 0.02)]);
    let areas = [
        SvgArea {
            class: "grid selected",
            label: Some("一网格"),
            title: Some("一网格 <3 件> & \"待办\""),
            href: Some("/grids/510117001001001"),
            ..SvgArea::new("510117001001001", &a)
        },
        SvgArea {
            href: Some("javascript:alert(1)"),
            ..SvgArea::new("b'\"", &b)
        },
    ];
    let points = [SvgPoint {
        lon: 103.81,
        lat: 30.81,
        class: "event urgent",
        title: Some("占道经营"),
        href: None,
    }];
    let svg = render_svg(&areas, &points, &SvgOptions::default());
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(!svg.contains("style"), "no inline styles: {svg}");
    assert!(!svg.contains("fill"), "colours come from CSS: {svg}");
    assert!(svg.contains(r#"<a href="/grids/510117001001001"><path class="area grid selected" data-code="510117001001001" d="M"#));
    assert!(
        svg.contains("<title>一网格 &lt;3 件&gt; &amp; &quot;待办&quot;</title></path></a>"),
        "{svg}"
    );
    assert!(!svg.contains("javascript"), "{svg}");
    assert!(svg.contains(r#"data-code="b&#39;&quot;""#), "{svg}");
    assert!(svg.contains(r#"<text class="area-label""#) && svg.contains(">一网格</text>"));
    assert!(
        svg.contains(r#"<circle class="point event urgent""#)
            && svg.contains("<title>占道经营</title></circle>")
    );
    // The holed area has two subpaths: exterior and hole.
    let first_path = svg.split("d=\"").nth(1).unwrap();
    assert_eq!(
        first_path[..first_path.find('"').unwrap()]
            .matches('M')
            .count(),
        2
    );
    assert!(svg.ends_with("</g></svg>"));
}

#[test]
fn longitude_is_shrunk_by_cos_latitude_so_shapes_look_right() {
    // A 1° × 1° "square" at 60° N is half as wide as it is tall on the ground.
    let g = MultiPolygon::new(vec![square(10.0, 59.5, 1.0)]);
    let options = SvgOptions {
        margin: 0.0,
        ..SvgOptions::default()
    };
    let svg = render_svg(&[SvgArea::new("x", &g)], &[], &options);
    let (w, h) = view_box(&svg);
    assert_eq!(w, 800.0);
    assert!((h / w - 2.0).abs() < 0.01, "{w}×{h}");
}

#[test]
fn coordinates_are_rounded_to_keep_the_svg_small() {
    let g = MultiPolygon::new(vec![square(103.8123456789, 30.8123456789, 0.0123456789)]);
    let svg = render_svg(&[SvgArea::new("x", &g)], &[], &SvgOptions::default());
    let d = svg.split("d=\"").nth(1).unwrap();
    let d = &d[..d.find('"').unwrap()];
    for number in d
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|s| !s.is_empty())
    {
        let decimals = number.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 1, "{number} in {d}");
    }
}

#[test]
fn heat_maps_assign_heat_classes() {
    let geometries: Vec<MultiPolygon<f64>> = (0..7)
        .map(|i| MultiPolygon::new(vec![square(103.8 + 0.01 * i as f64, 30.8, 0.01)]))
        .collect();
    let codes: Vec<String> = (0..7).map(|i| format!("g{i}")).collect();
    let areas: Vec<SvgArea<'_>> = codes
        .iter()
        .zip(&geometries)
        .map(|(c, g)| SvgArea {
            class: "grid",
            ..SvgArea::new(c, g)
        })
        .collect();
    let svg = render_heat_svg(
        &areas,
        &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        Bucketing::Quantile,
        &[],
        &SvgOptions::default(),
    );
    for k in 0..6 {
        assert!(
            svg.contains(&format!(r#"class="area grid heat-{k}" data-code="g{k}""#)),
            "{k}: {svg}"
        );
    }
    assert!(
        svg.contains(r#"class="area grid heat-none" data-code="g6""#),
        "missing value"
    );
}

#[test]
fn nothing_to_draw_still_gives_a_valid_svg() {
    let svg = render_svg(&[], &[], &SvgOptions::default());
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    let p = [SvgPoint {
        lon: f64::NAN,
        lat: 1.0,
        class: "",
        title: None,
        href: None,
    }];
    let svg = render_svg(&[], &p, &SvgOptions::default());
    assert!(!svg.contains("NaN") && !svg.contains("<circle"), "{svg}");
}
