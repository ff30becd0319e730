//! Helpers shared by the benchmarks (included with `#[path]`; not a bench target).

/// Criterion's options that take a value (so that the value is not taken for a filter).
pub(crate) const VALUE_OPTIONS: &[&str] = &[
    "-c",
    "--color",
    "-s",
    "--save-baseline",
    "-b",
    "--baseline",
    "--baseline-lenient",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--profile-time",
    "--output-format",
    "--plotting-backend",
    "--format",
];

/// Whether the printed figure `name` is wanted: no filter was given on the command line, or
/// the filter (taken literally, not as criterion's regex) names it or occurs in it.
pub(crate) fn wanted(name: &str) -> bool {
    let mut args = std::env::args().skip(1);
    let mut filter = None;
    while let Some(a) = args.next() {
        if VALUE_OPTIONS.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            filter = Some(a);
        }
    }
    filter.is_none_or(|f| name.contains(&f) || f.contains(name.split('/').next().unwrap_or(name)))
}
