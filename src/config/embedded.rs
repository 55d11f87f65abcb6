//! The configuration shipped in the binary, with the GeoJSON files it names: what a fresh
//! checkout or a bare `vesselwatch run` uses, with nothing to set up.

/// The example configuration, shipped in the binary so that a fresh checkout runs without set-up.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/vesselwatch.toml");

/// The GeoJSON files the default configuration names, embedded with it.
pub const EMBEDDED_FENCES: &[(&str, &str)] = &[
    (
        "fences/tartus-naval.geojson",
        include_str!("../../config/fences/tartus-naval.geojson"),
    ),
    (
        "fences/tartus-port.geojson",
        include_str!("../../config/fences/tartus-port.geojson"),
    ),
    (
        "fences/tartus-outer-anchorage.geojson",
        include_str!("../../config/fences/tartus-outer-anchorage.geojson"),
    ),
    (
        "fences/latakia.geojson",
        include_str!("../../config/fences/latakia.geojson"),
    ),
    (
        "fences/baniyas.geojson",
        include_str!("../../config/fences/baniyas.geojson"),
    ),
    (
        "fences/novorossiysk.geojson",
        include_str!("../../config/fences/novorossiysk.geojson"),
    ),
    (
        "fences/sevastopol.geojson",
        include_str!("../../config/fences/sevastopol.geojson"),
    ),
    (
        "fences/baltiysk.geojson",
        include_str!("../../config/fences/baltiysk.geojson"),
    ),
    (
        "fences/kronstadt.geojson",
        include_str!("../../config/fences/kronstadt.geojson"),
    ),
];
