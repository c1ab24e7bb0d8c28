//! SVG drawings of areas and points that a strict Content-Security-Policy accepts.
//!
//! Nothing is styled inline: every element carries `class` attributes only, and the page's
//! stylesheet gives them colours (`.area`, `.area-label`, `.point`, `heat-0` … `heat-5`,
//! `heat-none`). Rings are oriented so the default non-zero fill rule leaves holes empty, so no
//! `fill-rule` is needed either. Text is escaped; hover text goes in `<title>` children, which
//! browsers show as tooltips and screen readers read.
//!
//! The projection is equirectangular with longitudes scaled by cos(latitude) at the centre of
//! the drawing, which keeps shapes true at district scale. North is up.

use std::fmt::Write as _;

use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Coord, InteriorPoint, LineString, MultiPolygon, Rect};

/// One area to draw.
#[derive(Debug, Clone, Copy)]
pub struct SvgArea<'a> {
    /// Written as `data-code`, so scripts and tests can find the area.
    pub code: &'a str,
    /// Lon/lat degrees.
    pub geometry: &'a MultiPolygon<f64>,
    /// Extra classes for the path, after `area` (for instance `grid selected`).
    pub class: &'a str,
    /// Text drawn at a point inside the area.
    pub label: Option<&'a str>,
    /// Hover text.
    pub title: Option<&'a str>,
    /// Makes the area a link. Only relative, `http:` and `https:` links are kept.
    pub href: Option<&'a str>,
}

impl<'a> SvgArea<'a> {
    /// An area with a code and geometry and nothing else.
    pub fn new(code: &'a str, geometry: &'a MultiPolygon<f64>) -> Self {
        SvgArea {
            code,
            geometry,
            class: "",
            label: None,
            title: None,
            href: None,
        }
    }
}

/// One point (an event, a facility …) to draw as a circle.
#[derive(Debug, Clone, Copy)]
pub struct SvgPoint<'a> {
    pub lon: f64,
    pub lat: f64,
    /// Extra classes for the circle, after `point`.
    pub class: &'a str,
    /// Hover text.
    pub title: Option<&'a str>,
    /// Makes the point a link. Only relative, `http:` and `https:` links are kept.
    pub href: Option<&'a str>,
}

/// Drawing size and precision.
#[derive(Debug, Clone)]
pub struct SvgOptions {
    /// Width of the viewBox in user units; the height follows from the areas' shape.
    pub width: f64,
    /// Space around the areas, as a fraction of the larger side of their bounding box.
    pub margin: f64,
    /// Decimals kept in coordinates. One decimal at 800 units wide is finer than any screen.
    pub decimals: u8,
    /// Radius of point circles, in user units.
    pub point_radius: f64,
    /// Classes of the `<svg>` element.
    pub class: String,
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            width: 800.0,
            margin: 0.03,
            decimals: 1,
            point_radius: 4.0,
            class: "geo-map".into(),
        }
    }
}

/// Draws the areas (in the order given; later ones on top), their labels above all areas, and
/// the points above everything. The view fits the areas' bounding box plus the margin (the
/// points' when there are no areas); points outside it are still written, and clipped by the
/// viewer. Non-finite coordinates are skipped.
pub fn render_svg(areas: &[SvgArea<'_>], points: &[SvgPoint<'_>], options: &SvgOptions) -> String {
    let view = View::fit(areas, points, options);
    let mut out = String::with_capacity(256 + areas.len() * 512);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" class="{}" role="img">"#,
        view.num(view.width),
        view.num(view.height),
        escape(&options.class)
    );
    out.push_str(r#"<g class="areas">"#);
    for area in areas {
        let d = view.path(area.geometry);
        if d.is_empty() {
            continue;
        }
        let href = area.href.and_then(safe_href);
        if let Some(href) = href {
            let _ = write!(out, r#"<a href="{}">"#, escape(href));
        }
        let _ = write!(
            out,
            r#"<path class="{}" data-code="{}" d="{d}">"#,
            classes("area", area.class),
            escape(area.code)
        );
        if let Some(title) = area.title {
            let _ = write!(out, "<title>{}</title>", escape(title));
        }
        out.push_str("</path>");
        if href.is_some() {
            out.push_str("</a>");
        }
    }
    out.push_str("</g>");

    out.push_str(r#"<g class="labels">"#);
    for area in areas {
        let Some(label) = area.label else { continue };
        let Some(at) = area.geometry.interior_point() else {
            continue;
        };
        let Some((x, y)) = view.project(at.0) else {
            continue;
        };
        let _ = write!(
            out,
            r#"<text class="area-label" x="{}" y="{}">{}</text>"#,
            view.num(x),
            view.num(y),
            escape(label)
        );
    }
    out.push_str("</g>");

    out.push_str(r#"<g class="points">"#);
    for point in points {
        let Some((x, y)) = view.project(Coord {
            x: point.lon,
            y: point.lat,
        }) else {
            continue;
        };
        let href = point.href.and_then(safe_href);
        if let Some(href) = href {
            let _ = write!(out, r#"<a href="{}">"#, escape(href));
        }
        let _ = write!(
            out,
            r#"<circle class="{}" cx="{}" cy="{}" r="{}">"#,
            classes("point", point.class),
            view.num(x),
            view.num(y),
            view.num(options.point_radius)
        );
        if let Some(title) = point.title {
            let _ = write!(out, "<title>{}</title>", escape(title));
        }
        out.push_str("</circle>");
        if href.is_some() {
            out.push_str("</a>");
        }
    }
    out.push_str("</g></svg>");
    out
}

/// How [`heat_classes`] turns values into classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucketing {
    /// By rank: each class holds about the same number of areas, whatever the spread of values;
    /// equal values always share a class. Suits skewed counts (cases per grid), where linear
    /// buckets would put nearly everything in the lowest class.
    #[default]
    Quantile,
    /// Equal-width value ranges between the smallest and largest value.
    Linear,
}

/// Number of heat classes [`render_heat_svg`] uses: `heat-0` … `heat-5`.
pub const HEAT_CLASSES: usize = 6;

/// The class (0 = lowest) of each value among `classes` classes; `None` for NaN or infinite
/// values. When all values are equal they all get class 0. `classes == 0` is taken as 1.
pub fn heat_classes(values: &[f64], classes: usize, method: Bucketing) -> Vec<Option<usize>> {
    let classes = classes.max(1);
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let (Some(&min), Some(&max)) = (finite.first(), finite.last()) else {
        return vec![None; values.len()];
    };
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return None;
            }
            let position = match method {
                _ if max <= min => 0.0,
                Bucketing::Linear => (v - min) / (max - min),
                Bucketing::Quantile => {
                    // Share of the *other* values below this one, so the lowest value is 0 and
                    // the highest 1 whatever the ties.
                    let below = finite.partition_point(|&x| x < v);
                    let not_above = finite.partition_point(|&x| x <= v);
                    let others = (finite.len() - (not_above - below)).max(1);
                    below as f64 / others as f64
                }
            };
            Some(((position * classes as f64) as usize).min(classes - 1))
        })
        .collect()
}

/// [`render_svg`] with each area's class set from its value: `heat-0` (lowest) … `heat-5`, or
/// `heat-none` for a missing (NaN) value, after the area's own classes. `values[i]` belongs to
/// `areas[i]`; areas without a value count as missing.
pub fn render_heat_svg(
    areas: &[SvgArea<'_>],
    values: &[f64],
    method: Bucketing,
    points: &[SvgPoint<'_>],
    options: &SvgOptions,
) -> String {
    let padded: Vec<f64> = (0..areas.len())
        .map(|i| values.get(i).copied().unwrap_or(f64::NAN))
        .collect();
    let buckets = heat_classes(&padded, HEAT_CLASSES, method);
    let names: Vec<String> = areas
        .iter()
        .zip(&buckets)
        .map(|(a, b)| {
            let heat = b.map_or_else(|| "heat-none".to_string(), |b| format!("heat-{b}"));
            if a.class.trim().is_empty() {
                heat
            } else {
                format!("{} {heat}", a.class.trim())
            }
        })
        .collect();
    let classed: Vec<SvgArea<'_>> = areas
        .iter()
        .zip(&names)
        .map(|(a, name)| SvgArea { class: name, ..*a })
        .collect();
    render_svg(&classed, points, options)
}

struct View {
    min_lon: f64,
    max_lat: f64,
    kx: f64,
    margin: f64,
    scale: f64,
    width: f64,
    height: f64,
    decimals: usize,
}

impl View {
    fn fit(areas: &[SvgArea<'_>], points: &[SvgPoint<'_>], options: &SvgOptions) -> View {
        let finite = |r: &Rect<f64>| {
            [r.min().x, r.min().y, r.max().x, r.max().y]
                .iter()
                .all(|v| v.is_finite())
        };
        let mut rects: Vec<Rect<f64>> = areas
            .iter()
            .filter_map(|a| a.geometry.bounding_rect())
            .filter(finite)
            .collect();
        if rects.is_empty() {
            rects = points
                .iter()
                .map(|p| Coord { x: p.lon, y: p.lat })
                .map(|c| Rect::new(c, c))
                .filter(finite)
                .collect();
        }
        let bounds = rects.into_iter().reduce(|b, r| {
            Rect::new(
                Coord {
                    x: b.min().x.min(r.min().x),
                    y: b.min().y.min(r.min().y),
                },
                Coord {
                    x: b.max().x.max(r.max().x),
                    y: b.max().y.max(r.max().y),
                },
            )
        });
        let bounds =
            bounds.unwrap_or_else(|| Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 }));
        let kx = bounds.center().y.to_radians().cos().abs().max(0.01);
        let w = bounds.width() * kx;
        let h = bounds.height();
        // A lone point or a degenerate set still gets a visible neighbourhood (about 1 km).
        let margin =
            (w.max(h) * options.margin.max(0.0)).max(if w.max(h) > 0.0 { 0.0 } else { 0.01 });
        let width = if options.width.is_finite() && options.width > 0.0 {
            options.width
        } else {
            800.0
        };
        let scale = width / (w + 2.0 * margin);
        View {
            min_lon: bounds.min().x,
            max_lat: bounds.max().y,
            kx,
            margin,
            scale,
            width,
            height: (h + 2.0 * margin) * scale,
            decimals: usize::from(options.decimals.min(8)),
        }
    }

    fn project(&self, c: Coord<f64>) -> Option<(f64, f64)> {
        let x = ((c.x - self.min_lon) * self.kx + self.margin) * self.scale;
        let y = ((self.max_lat - c.y) + self.margin) * self.scale;
        (x.is_finite() && y.is_finite()).then_some((x, y))
    }

    fn num(&self, v: f64) -> String {
        let mut s = format!("{v:.*}", self.decimals);
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        if s == "-0" { "0".into() } else { s }
    }

    /// Path data for all rings; consecutive points that round to the same spot are dropped.
    fn path(&self, geometry: &MultiPolygon<f64>) -> String {
        let mut d = String::new();
        // Exteriors one way and holes the other (on screen too, since the y flip reverses both),
        // so the non-zero rule leaves holes empty.
        for polygon in geometry.orient(Direction::Default) {
            let exterior_ok = self.ring(polygon.exterior(), &mut d);
            if !exterior_ok {
                continue;
            }
            for hole in polygon.interiors() {
                self.ring(hole, &mut d);
            }
        }
        d
    }

    fn ring(&self, ring: &LineString<f64>, d: &mut String) -> bool {
        let mut pts: Vec<(String, String)> = Vec::with_capacity(ring.0.len());
        for &c in &ring.0 {
            let Some((x, y)) = self.project(c) else {
                return false;
            };
            let p = (self.num(x), self.num(y));
            if pts.last() != Some(&p) {
                pts.push(p);
            }
        }
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        if pts.len() < 3 {
            return false;
        }
        for (i, (x, y)) in pts.iter().enumerate() {
            d.push(if i == 0 { 'M' } else { ' ' });
            let _ = write!(d, "{x},{y}");
        }
        d.push('Z');
        true
    }
}

fn classes(base: &str, extra: &str) -> String {
    let extra = extra.trim();
    if extra.is_empty() {
        base.to_string()
    } else {
        format!("{base} {}", escape(extra))
    }
}

fn safe_href(href: &str) -> Option<&str> {
    let h = href.trim();
    let lower = h.to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains(['/', '?', '#']));
    match scheme {
        None => Some(h),
        Some("http" | "https") => Some(h),
        Some(_) => None,
    }
}

/// Escapes text for both element content and double- or single-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_classes_follow_rank_and_linear_follow_value() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1000.0];
        let q = heat_classes(&values, 6, Bucketing::Quantile);
        assert_eq!(
            q,
            vec![
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(5)
            ]
        );
        let l = heat_classes(&values, 6, Bucketing::Linear);
        assert_eq!(l[..6], [Some(0); 6]);
        assert_eq!(l[6], Some(5));
    }

    #[test]
    fn equal_missing_and_empty_values_are_handled() {
        assert_eq!(
            heat_classes(&[3.0, 3.0], 6, Bucketing::Quantile),
            vec![Some(0), Some(0)]
        );
        assert_eq!(
            heat_classes(&[3.0, 3.0], 6, Bucketing::Linear),
            vec![Some(0), Some(0)]
        );
        assert_eq!(
            heat_classes(&[f64::NAN, 1.0, 2.0], 2, Bucketing::Quantile),
            vec![None, Some(0), Some(1)]
        );
        assert_eq!(heat_classes(&[f64::NAN], 6, Bucketing::Linear), vec![None]);
        assert!(heat_classes(&[], 6, Bucketing::Linear).is_empty());
        assert_eq!(
            heat_classes(&[1.0, 2.0], 0, Bucketing::Linear),
            vec![Some(0), Some(0)]
        );
        // Ties share a class, and the top value still reaches the top class.
        assert_eq!(
            heat_classes(&[0.0, 0.0, 0.0, 0.0, 9.0], 6, Bucketing::Quantile),
            vec![Some(0), Some(0), Some(0), Some(0), Some(5)]
        );
    }

    #[test]
    fn only_safe_links_are_kept() {
        assert_eq!(safe_href("/grids/1"), Some("/grids/1"));
        assert_eq!(safe_href("https://x.cn/a"), Some("https://x.cn/a"));
        assert_eq!(safe_href("?a=b:c"), Some("?a=b:c"));
        assert_eq!(safe_href(" JavaScript:alert(1)"), None);
        assert_eq!(safe_href("data:text/html,x"), None);
    }

    #[test]
    fn numbers_are_short() {
        let view = View {
            min_lon: 0.0,
            max_lat: 0.0,
            kx: 1.0,
            margin: 0.0,
            scale: 1.0,
            width: 1.0,
            height: 1.0,
            decimals: 1,
        };
        assert_eq!(view.num(12.0), "12");
        assert_eq!(view.num(12.34), "12.3");
        assert_eq!(view.num(-0.01), "0");
        assert_eq!(view.num(100.0), "100");
    }
}
