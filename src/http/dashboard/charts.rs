//! The dashboard's charts, drawn server-side as SVG by `plotters` so the
//! page reads without JavaScript. Each function returns one `<svg>` element.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::view::{AvailabilityView, ComplianceView, DayView};

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("could not draw the {chart} chart: {message}")]
pub struct ChartError {
    chart: &'static str,
    message: String,
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Axis labels and legends; plotters' default is too small to read.
const LABELS: (&str, u32) = ("sans-serif", 14);
const WIDTH: u32 = 560;
const HEIGHT: u32 = 280;
const OPENED: RGBColor = RGBColor(0x1f, 0x6f, 0xb4);
const RESOLVED: RGBColor = RGBColor(0x2c, 0x9c, 0x4a);
const MTTA: RGBColor = RGBColor(0xd9, 0x7a, 0x00);
const MTTR: RGBColor = RGBColor(0x7b, 0x3f, 0xb0);
const GOOD: RGBColor = RGBColor(0x2c, 0x9c, 0x4a);
const BAD: RGBColor = RGBColor(0xc6, 0x28, 0x28);
const NEUTRAL: RGBColor = RGBColor(0x1f, 0x6f, 0xb4);

/// Draws on an SVG canvas and returns its text.
fn render(
    chart: &'static str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let fail = |err: &dyn std::fmt::Display| ChartError {
            chart,
            message: err.to_string(),
        };
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

/// The label of a segment (a day, a priority, a service) on the x axis.
fn segment_label(value: &SegmentValue<i32>, labels: &[String]) -> String {
    match value {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(*i)
            .ok()
            .and_then(|i| labels.get(i))
            .cloned()
            .unwrap_or_default(),
        SegmentValue::Last => String::new(),
    }
}

/// Segment `i` of the x axis.
fn at(i: usize) -> SegmentValue<i32> {
    SegmentValue::CenterOf(i32::try_from(i).unwrap_or(i32::MAX))
}

/// `n` slots on the x axis (at least one). The integer range is inclusive
/// of its end, so `0..n - 1` gives exactly `n` segments.
fn segments(
    n: usize,
) -> plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordi32> {
    (0..i32::try_from(n.max(1) - 1).unwrap_or(i32::MAX)).into_segmented()
}

fn day_labels(days: &[DayView]) -> Vec<String> {
    days.iter()
        .map(|d| d.date.format("%m-%d").to_string())
        .collect()
}

/// Incidents opened and resolved per day, as two lines.
pub fn volume(days: &[DayView]) -> Result<String, ChartError> {
    let labels = day_labels(days);
    let top = days
        .iter()
        .map(|d| d.opened.max(d.resolved))
        .max()
        .unwrap_or(0)
        .max(1);
    render("volume", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(segments(days.len()), 0i64..top + top / 5 + 1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style(LABELS)
            .axis_desc_style(LABELS)
            .x_labels(days.len().clamp(1, 10))
            .x_label_formatter(&|v| segment_label(v, &labels))
            .y_desc("incidents")
            .draw()?;
        for (name, color, pick) in [
            (
                "opened",
                OPENED,
                (|d: &DayView| d.opened) as fn(&DayView) -> i64,
            ),
            ("resolved", RESOLVED, |d: &DayView| d.resolved),
        ] {
            let points: Vec<_> = days
                .iter()
                .enumerate()
                .map(|(i, d)| (at(i), pick(d)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(LABELS)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        Ok(())
    })
}

/// Mean time to acknowledge and to resolve per day, in hours; days with
/// nothing acknowledged or resolved are left out of their line.
pub fn trend(days: &[DayView]) -> Result<String, ChartError> {
    let labels = day_labels(days);
    let hours = |s: Option<i64>| s.map(|s| s as f64 / 3600.0);
    let top = days
        .iter()
        .flat_map(|d| [hours(d.mtta_seconds), hours(d.mttr_seconds)])
        .flatten()
        .fold(1.0_f64, f64::max);
    render("MTTA/MTTR", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(segments(days.len()), 0.0..top * 1.2)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style(LABELS)
            .axis_desc_style(LABELS)
            .x_labels(days.len().clamp(1, 10))
            .x_label_formatter(&|v| segment_label(v, &labels))
            .y_desc("hours")
            .draw()?;
        for (name, color, pick) in [
            (
                "MTTA",
                MTTA,
                (|d: &DayView| d.mtta_seconds) as fn(&DayView) -> Option<i64>,
            ),
            ("MTTR", MTTR, |d: &DayView| d.mttr_seconds),
        ] {
            let points: Vec<_> = days
                .iter()
                .enumerate()
                .filter_map(|(i, d)| Some((at(i), hours(pick(d))?)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(LABELS)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        Ok(())
    })
}

/// One bar per label; `None` leaves the slot empty (nothing measured).
struct Bars<'a> {
    chart: &'static str,
    labels: Vec<String>,
    values: Vec<Option<f64>>,
    colors: Vec<RGBColor>,
    y: std::ops::Range<f64>,
    y_desc: &'a str,
    /// A target per bar, drawn as a line across its slot.
    targets: Vec<Option<f64>>,
    value_text: &'a dyn Fn(f64) -> String,
}

fn bars(spec: Bars<'_>) -> Result<String, ChartError> {
    let Bars {
        chart: name,
        labels,
        values,
        colors,
        y,
        y_desc,
        targets,
        value_text,
    } = spec;
    let bottom = y.start;
    render(name, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(segments(labels.len()), y)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style(LABELS)
            .axis_desc_style(LABELS)
            .x_labels(labels.len().max(1))
            .x_label_formatter(&|v| segment_label(v, &labels))
            .y_desc(y_desc)
            .draw()?;
        let drawn: Vec<(usize, f64, RGBColor)> = values
            .iter()
            .zip(&colors)
            .enumerate()
            .filter_map(|(i, (v, c))| Some((i, (*v)?, *c)))
            .collect();
        chart.draw_series(drawn.iter().map(|&(i, v, color)| {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), bottom),
                    (SegmentValue::Exact(i + 1), v.max(bottom)),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 14, 14);
            bar
        }))?;
        // Each value centred just above its bar.
        let style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(
            drawn
                .iter()
                .map(|&(i, v, _)| Text::new(value_text(v), (at(i), v.max(bottom)), style.clone())),
        )?;
        let lines: Vec<_> = targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let i = i32::try_from(i).unwrap_or(i32::MAX);
                Some(vec![
                    (SegmentValue::Exact(i), (*t)?),
                    (SegmentValue::Exact(i + 1), (*t)?),
                ])
            })
            .collect();
        // No legend: it would cover a bar; the caption names the line.
        chart.draw_series(
            lines
                .into_iter()
                .map(|line| PathElement::new(line, BAD.stroke_width(2))),
        )?;
        Ok(())
    })
}

/// SLA compliance per priority, in percent of the clocks that stopped.
pub fn compliance(rows: &[ComplianceView]) -> Result<String, ChartError> {
    bars(Bars {
        chart: "SLA compliance",
        labels: rows.iter().map(|r| r.priority.clone()).collect(),
        values: rows.iter().map(|r| r.percent).collect(),
        colors: rows
            .iter()
            .map(|r| match r.percent {
                Some(p) if p >= 90.0 => GOOD,
                _ => BAD,
            })
            .collect(),
        y: 0.0..115.0,
        y_desc: "% within SLA",
        targets: Vec::new(),
        value_text: &|v| format!("{v:.0}%"),
    })
}

/// How many answers gave each satisfaction score.
pub fn csat(scores: &[i64; 5]) -> Result<String, ChartError> {
    let top = scores.iter().copied().max().unwrap_or(0).max(1) as f64;
    bars(Bars {
        chart: "CSAT",
        labels: (1..=5).map(|s| format!("{s}/5")).collect(),
        values: scores.iter().map(|&n| Some(n as f64)).collect(),
        colors: vec![BAD, BAD, NEUTRAL, GOOD, GOOD],
        y: 0.0..top * 1.25,
        y_desc: "answers",
        targets: Vec::new(),
        value_text: &|v| format!("{v:.0}"),
    })
}

/// Each service's availability against its target.
pub fn availability(rows: &[AvailabilityView]) -> Result<String, ChartError> {
    let lowest = rows
        .iter()
        .flat_map(|r| [r.availability_percent, r.target_percent])
        .fold(100.0_f64, f64::min);
    // Zoom in on the top of the scale: the difference between 99.9% and
    // 99.5% is what matters, and it would vanish on a 0–100 axis.
    let bottom = (lowest - (100.0 - lowest).max(0.05) * 0.5).max(0.0);
    let top = 100.0 + (100.0 - bottom) * 0.15;
    bars(Bars {
        chart: "availability",
        labels: rows.iter().map(|r| r.service.clone()).collect(),
        values: rows.iter().map(|r| Some(r.availability_percent)).collect(),
        colors: rows
            .iter()
            .map(|r| if r.met { GOOD } else { BAD })
            .collect(),
        y: bottom..top,
        y_desc: "% available",
        targets: rows.iter().map(|r| Some(r.target_percent)).collect(),
        value_text: &|v| format!("{v:.2}%"),
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(d: u32, opened: i64) -> DayView {
        DayView {
            date: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            opened,
            resolved: 0,
            resolved_by_monitoring: 0,
            mtta_seconds: None,
            mttr_seconds: Some(3600),
            sla_met: 0,
            breaches: 0,
        }
    }

    #[test]
    fn one_day_no_data_and_many_days_all_draw() {
        for days in [
            vec![],
            vec![day(1, 0)],
            (1..=30).map(|d| day(d, 3)).collect(),
        ] {
            let svg = volume(&days).unwrap();
            assert!(svg.starts_with("<svg"), "{svg}");
            assert_eq!(svg.matches("<circle").count(), 2 * days.len());
            trend(&days).unwrap();
        }
        compliance(&[]).unwrap();
        availability(&[]).unwrap();
        let svg = csat(&[0, 0, 0, 0, 0]).unwrap();
        assert!(svg.contains("5/5"), "{svg}");
    }
}
