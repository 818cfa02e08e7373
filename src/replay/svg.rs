//! The replay's pictures as one SVG file: the breaches by weekday × hour as a heat map, and
//! the time to the first human reply as bars, under a heading that says what was replayed
//! (the days, the response targets, the totals).
//!
//! The document is built as an element tree with the `svg` crate, which escapes every text
//! (the first bar's label is `<15m`), so the file is always well-formed XML. Both scales are
//! fixed, not fitted to each picture, so two runs (today's hours and a what-if) compare by
//! eye: a heat-map colour always means the same number of breaches, stated in the legend,
//! and a bar's height is its share of the replies on a 0–100 % axis.

use jiff::SignedDuration;
use svg::node::element::{Element, Line, Rectangle, Title};
use svg::{Document, Node};

use super::report::{Report, WEEKDAYS, hours_minutes, percentile};

/// The bars of the reply-time chart: upper bounds in minutes (the last bar has none).
const BARS: [(i64, &str); 8] = [
    (15, "<15m"),
    (30, "15-30m"),
    (60, "30m-1h"),
    (120, "1-2h"),
    (240, "2-4h"),
    (480, "4-8h"),
    (960, "8-16h"),
    (i64::MAX, "16h+"),
];

/// The heat map's fixed colour scale: the fewest breaches in a cell for each colour, white
/// for none, then deepening red (ColorBrewer's "Reds").
const HEAT: [(usize, &str); 7] =
    [(0, "#ffffff"), (1, "#fee5d9"), (2, "#fcbba1"), (4, "#fc9272"), (8, "#fb6a4a"), (16, "#de2d26"), (32, "#a50f15")];

/// Size of one heat-map cell, in pixels.
const CELL: usize = 24;
/// Left margin (room for the weekday names), in pixels.
const LEFT: usize = 48;
/// Height of the bars' 0–100 % axis, in pixels.
const BAR_AXIS: usize = 140;

/// Draws the report as an SVG document.
pub fn draw(report: &Report) -> String {
    let width = LEFT + 24 * CELL + 24;
    let heat_top = 118;
    let legend_top = heat_top + 7 * CELL + 26;
    let chart_top = legend_top + 62;
    let height = chart_top + BAR_AXIS + 40;
    let mut doc = Document::new()
        .set("width", width)
        .set("height", height)
        .set("viewBox", (0, 0, width, height))
        .set("font-family", "sans-serif")
        .set("font-size", 11)
        .add(Rectangle::new().set("width", width).set("height", height).set("fill", "#ffffff"));
    for (line, (y, size)) in heading(report).into_iter().zip([(22, 15), (42, 12), (60, 12)]) {
        doc = doc.add(label(8, y, line).set("font-size", size));
    }
    // The heat map.
    doc = doc.add(
        label(LEFT, heat_top - 12, "Breaches by weekday and hour the contact came in (local time)")
            .set("font-size", 13),
    );
    for (day, row) in report.heat.iter().enumerate() {
        let y = heat_top + day * CELL;
        doc = doc.add(label(8, y + 16, WEEKDAYS[day]));
        for (hour, &count) in row.iter().enumerate() {
            let tip = format!("{} {hour:02}:00: {count} breach{}", WEEKDAYS[day], if count == 1 { "" } else { "es" });
            doc = doc.add(cell(LEFT + hour * CELL, y, CELL, heat_colour(count)).add(Title::new(tip)));
        }
    }
    for hour in (0..24).step_by(3) {
        doc = doc.add(label(LEFT + hour * CELL + 4, heat_top + 7 * CELL + 14, format!("{hour:02}:00")));
    }
    // Its legend: the fixed scale.
    doc = doc.add(label(LEFT, legend_top + 12, "Breaches in an hour (same scale in every replay):"));
    let mut x = LEFT + 290;
    for (index, &(least, colour)) in HEAT.iter().enumerate() {
        let range = match HEAT.get(index + 1) {
            Some(&(next, _)) if next == least + 1 => least.to_string(),
            Some(&(next, _)) => format!("{least}-{}", next - 1),
            None => format!("{least}+"),
        };
        doc = doc.add(cell(x, legend_top, 14, colour)).add(label(x + 17, legend_top + 11, range.clone()));
        x += 26 + 7 * range.len();
    }
    // The reply times, as shares of the replies on a fixed 0–100 % axis.
    let counts = reply_bars(&report.replies);
    let total = report.replies.len();
    doc = doc.add(
        label(LEFT, chart_top - 24, format!("Business time to the first human reply: share of the {total} replies"))
            .set("font-size", 13),
    );
    for percent in [0, 25, 50, 75, 100] {
        let y = chart_top + BAR_AXIS - BAR_AXIS * percent / 100;
        doc = doc
            .add(
                Line::new()
                    .set("x1", LEFT)
                    .set("x2", LEFT + 24 * CELL)
                    .set("y1", y)
                    .set("y2", y)
                    .set("stroke", "#dddddd"),
            )
            .add(label(8, y + 4, format!("{percent}%")));
    }
    let bar = 24 * CELL / BARS.len();
    for (index, (&count, (_, name))) in counts.iter().zip(BARS.iter()).enumerate() {
        let share = (count * 100).checked_div(total).unwrap_or(0);
        let h = (count * BAR_AXIS).checked_div(total).unwrap_or(0);
        let (x, y) = (LEFT + index * bar, chart_top + BAR_AXIS - h);
        doc = doc
            .add(
                Rectangle::new()
                    .set("x", x + 4)
                    .set("y", y)
                    .set("width", bar - 8)
                    .set("height", h)
                    .set("fill", "#4a7ab5")
                    .add(Title::new(format!("{name}: {count} of {total} replies"))),
            )
            .add(label(x + 6, y.saturating_sub(4), format!("{count} ({share}%)")))
            .add(label(x + 4, chart_top + BAR_AXIS + 16, *name));
    }
    format!("{doc}\n")
}

/// The three heading lines: what was replayed, the response targets, the totals.
fn heading(report: &Report) -> [String; 3] {
    let days = match report.first_day {
        Some(first) => format!("{first} to {}", report.last_day),
        None => format!("up to {}", report.last_day),
    };
    let targets = format!(
        "Response targets (business hours): texts {}, missed calls {}",
        hours(report.sms_sla),
        hours(report.call_sla)
    );
    let show = |p| percentile(&report.replies, p).map_or("-".to_string(), hours_minutes);
    let totals = format!(
        "{} issues, {} breaches, {} escalations; first reply median {}, p90 {}; {} events replayed",
        report.issues,
        report.breaches,
        report.escalations,
        show(50),
        show(90),
        report.events
    );
    [format!("Sentinel what-if replay: {days}"), targets, totals]
}

/// `2 h`, `0.25 h`.
fn hours(duration: SignedDuration) -> String {
    let hours = duration.as_secs_f64() / 3600.0;
    format!("{} h", (hours * 100.0).round() / 100.0)
}

/// A text at (`x`, `y`); the crate escapes it. Built as a plain `text` element rather than the
/// crate's `Text`, which writes its content between newlines.
fn label(x: usize, y: usize, text: impl Into<String>) -> Label {
    let mut element = Element::new("text");
    element.assign("x", x);
    element.assign("y", y);
    element.append(svg::node::Text::new(text));
    Label(element)
}

/// A `text` element under construction.
struct Label(Element);

impl Label {
    /// Sets an attribute, as the crate's elements do.
    fn set(mut self, name: &str, value: impl Into<svg::node::Value>) -> Label {
        self.0.assign(name, value);
        self
    }
}

impl From<Label> for Box<dyn Node> {
    fn from(label: Label) -> Box<dyn Node> {
        Box::new(label.0)
    }
}

/// A square of `size` filled with `colour`.
fn cell(x: usize, y: usize, size: usize, colour: &str) -> Rectangle {
    Rectangle::new()
        .set("x", x)
        .set("y", y)
        .set("width", size)
        .set("height", size)
        .set("fill", colour)
        .set("stroke", "#dddddd")
}

/// The colour of a heat-map cell with `count` breaches, on the fixed scale.
fn heat_colour(count: usize) -> &'static str {
    HEAT.iter().rev().find(|(least, _)| count >= *least).map_or(HEAT[0].1, |(_, colour)| colour)
}

/// How many reply times fall in each bar.
fn reply_bars(replies: &[SignedDuration]) -> [usize; BARS.len()] {
    let mut counts = [0; BARS.len()];
    for reply in replies {
        let minutes = reply.as_secs() / 60;
        let index = BARS.iter().position(|(bound, _)| minutes < *bound).unwrap_or(BARS.len() - 1);
        counts[index] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_times_fall_in_their_bars() {
        let replies: Vec<SignedDuration> = [0, 14, 15, 59, 60, 2000].map(SignedDuration::from_mins).to_vec();
        assert_eq!(reply_bars(&replies), [2, 1, 1, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn a_count_has_the_same_colour_in_every_picture() {
        let colours: Vec<&str> = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 500].map(heat_colour).to_vec();
        assert_eq!(
            colours,
            [
                "#ffffff", "#fee5d9", "#fcbba1", "#fcbba1", "#fc9272", "#fc9272", "#fb6a4a", "#fb6a4a", "#de2d26",
                "#de2d26", "#a50f15", "#a50f15"
            ]
        );
    }

    #[test]
    fn hours_are_written_plainly() {
        assert_eq!(hours(SignedDuration::from_hours(2)), "2 h");
        assert_eq!(hours(SignedDuration::from_mins(15)), "0.25 h");
    }
}
