//! Conversions between the coordinate systems Chinese web maps use.
//!
//! GCJ-02 is WGS-84 with a deliberate, smooth, position-dependent offset of a few hundred metres
//! applied inside China; AMap (高德) and Tencent maps use it. BD-09 is Baidu's further offset of
//! GCJ-02. The forward formula (`wgs84_to_gcj02`) is the widely published one; there is no
//! closed-form inverse, so `gcj02_to_wgs84` iterates the forward formula until it reproduces the
//! input to within 1e-9°.
//!
//! Outside a rectangle around China the GCJ-02 offset is not applied, so the GCJ functions return
//! their input unchanged there. All functions take and return (longitude, latitude) in degrees.

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid, which the GCJ-02 formula is written for.
const A: f64 = 6_378_245.0;
/// Its first eccentricity squared.
const EE: f64 = 0.006_693_421_622_965_943;
/// Baidu's angular constant.
const X_PI: f64 = PI * 3000.0 / 180.0;

/// True when the point is outside the rectangle where GCJ-02 offsets apply (the rectangle the
/// published formula uses; it also includes some neighbouring countries, as the formula does).
pub fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 offset (Δlon, Δlat) in degrees at a WGS-84 point.
fn delta(lon: f64, lat: f64) -> (f64, f64) {
    let d_lat = offset_lat(lon - 105.0, lat - 35.0);
    let d_lon = offset_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    (d_lon, d_lat)
}

/// WGS-84 → GCJ-02 (GPS → AMap/Tencent).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (d_lon, d_lat) = delta(lon, lat);
    (lon + d_lon, lat + d_lat)
}

/// GCJ-02 → WGS-84 (AMap/Tencent → GPS), by fixed-point iteration on the forward formula.
///
/// The offset changes by far less than its own size over a few hundred metres, so each step
/// shrinks the error by orders of magnitude; a handful of steps reaches 1e-9°.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (mut w_lon, mut w_lat) = (lon, lat);
    for _ in 0..30 {
        let (d_lon, d_lat) = delta(w_lon, w_lat);
        let (err_lon, err_lat) = (w_lon + d_lon - lon, w_lat + d_lat - lat);
        w_lon -= err_lon;
        w_lat -= err_lat;
        if err_lon.abs() < 1e-10 && err_lat.abs() < 1e-10 {
            break;
        }
    }
    (w_lon, w_lat)
}

/// BD-09 → GCJ-02 (Baidu → AMap/Tencent).
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

/// GCJ-02 → BD-09 (AMap/Tencent → Baidu).
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.000_02 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000_003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// BD-09 → WGS-84 (Baidu → GPS), through GCJ-02.
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (g_lon, g_lat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(g_lon, g_lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
        (a.0 - b.0).abs() < tol && (a.1 - b.1).abs() < tol
    }

    #[test]
    fn tiananmen_moves_by_the_known_offset() {
        let gcj = wgs84_to_gcj02(116.397128, 39.916527);
        assert!(close(gcj, (116.403366, 39.917928), 1e-4), "{gcj:?}");
    }

    #[test]
    fn gcj_round_trip_is_within_a_millionth_of_a_degree() {
        for &(lon, lat) in &[
            (116.397128, 39.916527),
            (103.88, 30.82),
            (121.4737, 31.2304),
            (87.6168, 43.8256),
            (113.2644, 23.1291),
            (126.6424, 45.7567),
        ] {
            let back = gcj02_to_wgs84(wgs84_to_gcj02(lon, lat).0, wgs84_to_gcj02(lon, lat).1);
            assert!(close(back, (lon, lat), 1e-6), "{lon},{lat} → {back:?}");
            assert!(close(back, (lon, lat), 1e-5));
        }
    }

    #[test]
    fn offset_is_hundreds_of_metres_not_zero() {
        let (lon, lat) = wgs84_to_gcj02(103.88, 30.82);
        let moved = ((lon - 103.88).powi(2) + (lat - 30.82).powi(2)).sqrt();
        assert!(moved > 0.001 && moved < 0.01, "{moved}");
    }

    #[test]
    fn points_outside_china_are_unchanged() {
        for &(lon, lat) in &[
            (2.3522, 48.8566),
            (-74.006, 40.7128),
            (139.6917, 35.6895),
            (151.2, -33.87),
        ] {
            assert_eq!(wgs84_to_gcj02(lon, lat), (lon, lat));
            assert_eq!(gcj02_to_wgs84(lon, lat), (lon, lat));
        }
    }

    #[test]
    fn baidu_round_trip_and_direction() {
        let gcj = (116.403366, 39.917928);
        let bd = gcj02_to_bd09(gcj.0, gcj.1);
        // Baidu's offset is about +0.0065° lon / +0.006° lat.
        assert!(close(bd, (gcj.0 + 0.0065, gcj.1 + 0.006), 1e-3), "{bd:?}");
        assert!(close(bd09_to_gcj02(bd.0, bd.1), gcj, 1e-5));
        let wgs = bd09_to_wgs84(bd.0, bd.1);
        assert!(close(wgs, (116.397128, 39.916527), 1e-4), "{wgs:?}");
    }
}
