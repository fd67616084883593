//! `--plot`: an SVG of the demand, the predictive policy's forecast band
//! and every policy's supply over time, in units.
//!
//! Drawn with `plotters`' SVG backend alone (no font or bitmap stack: SVG
//! text is left to the viewer's fonts). Demand is the trace over the unit
//! capacity (fractional units); supply is the ready units, drawn as steps;
//! the band is the predictive forecaster's one-step-ahead central interval
//! at the pool's quantile, at the time it forecast.

use plotters::prelude::*;

use super::policy::PolicyKind;
use super::{Config, Run, SimulateError, Trace, HOUR};

fn color(policy: PolicyKind) -> RGBColor {
    match policy {
        PolicyKind::Predictive => RGBColor(31, 119, 180),
        PolicyKind::Reactive => RGBColor(214, 39, 40),
        PolicyKind::Oracle => RGBColor(44, 160, 44),
    }
}

fn draw_error<E: std::fmt::Debug>(e: E) -> SimulateError {
    SimulateError::Output { what: "the plot".into(), message: format!("{e:?}") }
}

/// Renders the plot as SVG text.
pub fn render(trace: &Trace, config: &Config, runs: &[Run]) -> Result<String, SimulateError> {
    let hours = |k: usize| (trace.step as f64 * k as f64) / HOUR;
    let n = trace.values.len();
    let demand: Vec<(f64, f64)> =
        trace.values.iter().enumerate().map(|(k, d)| (hours(k), d / config.unit_capacity)).collect();
    let top = runs
        .iter()
        .flat_map(|r| r.ready.iter().map(|u| *u as f64))
        .chain(demand.iter().map(|(_, d)| *d))
        .fold(1.0, f64::max)
        * 1.05;
    let width = hours(n.max(2) - 1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1400, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let caption = format!(
            "{}: demand and supply (lead time {})",
            trace.name,
            augur_query::duration::format_duration(config.lead_time)
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..width, 0f64..top)
            .map_err(draw_error)?;
        chart.configure_mesh().x_desc("hours").y_desc("units").draw().map_err(draw_error)?;

        if let Some(pred) = runs.iter().find(|r| r.policy == PolicyKind::Predictive) {
            // The band as one polygon per stretch of steps that have one.
            let mut stretch: Vec<(usize, f64, f64)> = Vec::new();
            let blue = color(PolicyKind::Predictive).mix(0.2);
            let mut flush = |stretch: &mut Vec<(usize, f64, f64)>| -> Result<(), SimulateError> {
                if stretch.len() >= 2 {
                    let mut points: Vec<(f64, f64)> =
                        stretch.iter().map(|(k, _, hi)| (hours(*k), hi / config.unit_capacity)).collect();
                    points
                        .extend(stretch.iter().rev().map(|(k, lo, _)| (hours(*k), lo.max(0.0) / config.unit_capacity)));
                    chart.draw_series(std::iter::once(Polygon::new(points, blue))).map_err(draw_error)?;
                }
                stretch.clear();
                Ok(())
            };
            for (k, f) in pred.forecast.iter().enumerate() {
                match f {
                    Some(f) => stretch.push((k, f.band.0, f.band.1)),
                    None => flush(&mut stretch)?,
                }
            }
            flush(&mut stretch)?;
        }

        chart
            .draw_series(LineSeries::new(demand.iter().copied(), BLACK.stroke_width(1)))
            .map_err(draw_error)?
            .label("demand")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        for run in runs {
            let c = color(run.policy);
            let mut steps = Vec::with_capacity(2 * n);
            for (k, u) in run.ready.iter().enumerate() {
                steps.push((hours(k), *u as f64));
                steps.push((hours(k + 1).min(width), *u as f64));
            }
            chart
                .draw_series(LineSeries::new(steps, c.stroke_width(1)))
                .map_err(draw_error)?
                .label(format!("{} supply", run.policy.name()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}
