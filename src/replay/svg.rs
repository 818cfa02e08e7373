//! The replay's pictures as one SVG file, written by hand (a plotting crate would add to the
//! binary on the Pi for a few rectangles): the breaches by weekday × hour as a heat map, and
//! the time to the first human reply as a bar chart.

use std::fmt::Write as _;

use jiff::SignedDuration;

use super::report::{Report, WEEKDAYS};

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

/// Size of one heat-map cell, in pixels.
const CELL: usize = 24;

/// Draws the report as an SVG document.
pub fn draw(report: &Report) -> String {
    let (left, top) = (48, 40);
    let width = left + 24 * CELL + 24;
    let chart_top = top + 7 * CELL + 80;
    let height = chart_top + 200;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="20" font-size="14">Breaches by weekday and hour the contact came in</text>"#
    );
    let most = report.heat.iter().flatten().copied().max().unwrap_or(0).max(1);
    for (day, row) in report.heat.iter().enumerate() {
        let y = top + day * CELL;
        let _ = writeln!(svg, r#"<text x="8" y="{}">{}</text>"#, y + 16, WEEKDAYS[day]);
        for (hour, &count) in row.iter().enumerate() {
            let x = left + hour * CELL;
            // White for none, deepening red for more.
            let shade = 255 - (count * 200 / most) as u8;
            let _ = writeln!(
                svg,
                r##"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="rgb(255,{shade},{shade})" stroke="#ddd"><title>{} {hour}:00 — {count}</title></rect>"##,
                WEEKDAYS[day]
            );
        }
    }
    for hour in (0..24).step_by(3) {
        let _ = writeln!(svg, r#"<text x="{}" y="{}">{hour}</text>"#, left + hour * CELL + 4, top + 7 * CELL + 14);
    }
    let counts = reply_bars(&report.replies);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="{}" font-size="14">Business time to the first human reply ({} replies)</text>"#,
        chart_top - 20,
        report.replies.len()
    );
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1);
    let bar = 24 * CELL / BARS.len();
    for (index, (&count, (_, label))) in counts.iter().zip(BARS.iter()).enumerate() {
        let h = count * 140 / tallest;
        let x = left + index * bar;
        let y = chart_top + 140 - h;
        let _ = writeln!(
            svg,
            r##"<rect x="{}" y="{y}" width="{}" height="{h}" fill="#4a7ab5"/><text x="{}" y="{}">{count}</text><text x="{}" y="{}">{label}</text>"##,
            x + 4,
            bar - 8,
            x + 6,
            y.saturating_sub(4),
            x + 4,
            chart_top + 156
        );
    }
    svg.push_str("</svg>\n");
    svg
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
}
