//! Managers' SMS commands (SPEC §7): turning a text into a [`Command`] or a helpful error.
//!
//! Words match case-insensitively after an optional leading `Sentinel`; ids are `12` or `#12`,
//! separated by spaces and/or commas. Every failure carries its command's usage line, because
//! SPEC §7 promises a reply that shows how to fix the text. Carrying commands out is the store's job.

use super::hours::{Day, NewHours};
use super::phone::Phone;

/// Which issues a Resolve or Spam command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Issue numbers.
    Ids(Vec<i64>),
    /// A phone: the whole argument held 10 or more digits, normalised.
    Phone(Phone),
    /// A contact name (Resolve only), as typed, trimmed, with inner whitespace collapsed.
    Name(String),
}

/// One manager command, as SPEC §7 lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `List`: the first page of OPEN issues.
    List,
    /// `More`: the next page after `List`.
    More,
    /// `Open 12`: the party's name, phone and GHL link.
    Open(i64),
    /// `Resolve 12 13` or `Resolve <phone or name>`.
    Resolve(Target),
    /// `Spam 12` or `Spam <phone>`: never a name, since blocking by name could hit the wrong party.
    Spam(Target),
    /// `Note 12 <text>`: append a note to the timeline.
    Note {
        /// The issue number.
        id: i64,
        /// The note exactly as typed, with only trailing whitespace removed.
        text: String,
    },
    /// `Why 12`: the due-time explanation and the timeline.
    Why(i64),
    /// `Status`: appliance health in one SMS.
    Status,
    /// `Help`, `?` or `commands`: the command list.
    Help,
    /// `Hours`, `Closed Fri`, `Open Sat 9-12`, `Normal Fri`: the hours commands (issue 18).
    Hours(HoursCommand),
    /// `Pin`: a one-time sign-in link for the managers' console (issue 17).
    Pin,
    /// `OK`: the answer to `sentinel doctor --send-test-sms`, which the doctor shows (SPEC §13).
    Ok,
}

/// One of the hours commands (issue 18), which the store carries out in `db::hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoursCommand {
    /// `Hours`: this week's hours, special days marked.
    Week,
    /// `Closed today`, `Closed Fri`, `Closed 12/24`: closed all that day.
    Closed(Day),
    /// `Open Sat 9-12`, `Open today until 7pm`: special hours that day.
    Open(Day, NewHours),
    /// `Normal Fri`: that day's special hours are removed.
    Normal(Day),
}

/// A command that could not be understood: what was wrong, and the usage to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// What was wrong, lowercase and without a trailing period.
    pub message: String,
    /// How the command is written, e.g. `Open 12`.
    pub usage: &'static str,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A question ("which day is closed?") keeps its question mark.
        let stop = if self.message.ends_with('?') { "" } else { "." };
        write!(f, "{}{stop} Usage: {}", self.message, self.usage)
    }
}

/// The Help reply: every command on its own line, short enough for one SMS (< 600 chars).
pub const HELP: &str = "Sentinel commands:
List - open issues, 5 at a time
More - next 5
Open 12 - name, phone, GHL link
Resolve 12 13 | Resolve <phone or name>
Spam 12 | Spam <phone>
Note 12 <text>
Why 12 - due time and history
Closed today | Closed Fri | Closed 12/24
Open Sat 9-12 | Open today until 7pm
Normal Fri - usual hours again
Hours - this week's hours
Status - appliance health
Pin - sign-in link for the console
Help - this list";

/// Parses a manager's SMS into a [`Command`] (SPEC §7).
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let (word, rest) = split_word(strip_sentinel(text.trim()));
    let lower = word.to_lowercase();
    // "List." and "Help?" are how people type; a lone "?" must survive the trimming.
    let key = Some(lower.trim_end_matches(SENTENCE_END)).filter(|key| !key.is_empty()).unwrap_or(&lower);
    match key {
        "" => Err(error("the message is empty", USAGE_ALL)),
        "list" => bare(Command::List, "List", rest),
        "more" => bare(Command::More, "More", rest),
        "status" => bare(Command::Status, "Status", rest),
        "help" | "?" | "commands" => bare(Command::Help, "Help", rest),
        "open" => match split_word(rest) {
            (word, hours) if Day::parse(word).is_some() => open_hours(word, hours),
            _ => single_id(rest, USAGE_OPEN).map(Command::Open),
        },
        "closed" | "close" => {
            one_day(rest, "which day is closed?", USAGE_CLOSED).map(HoursCommand::Closed).map(Command::Hours)
        }
        "normal" => one_day(rest, "which day goes back to its usual hours?", USAGE_NORMAL)
            .map(HoursCommand::Normal)
            .map(Command::Hours),
        "hours" => bare(Command::Hours(HoursCommand::Week), "Hours", rest),
        "pin" => bare(Command::Pin, "Pin", rest),
        // "OK, got it" is still the answer to a test text: words after it never make it an error.
        _ if matches!(key.trim_end_matches(','), "ok" | "okay") => Ok(Command::Ok),
        "why" => single_id(rest, USAGE_WHY).map(Command::Why),
        "resolve" => target(rest, USAGE_RESOLVE, Names::Allowed).map(Command::Resolve),
        "spam" => target(rest, USAGE_SPAM, Names::Refused).map(Command::Spam),
        "note" => note(rest),
        _ => Err(error(format!("unknown command \"{word}\""), USAGE_ALL)),
    }
}

/// The usage line of every command, and of each (SPEC §7: every failure carries one).
pub const USAGE_ALL: &str = "List | More | Open 12 | Resolve 12 | Spam 12 | Note 12 <text> | Why 12 | Closed Fri | Open Sat 9-12 | Normal Fri | Hours | Status | Pin | Help";
/// `Open`'s usage line.
pub const USAGE_OPEN: &str = "Open 12";
/// The usage line of `Open` with a day: special hours.
pub const USAGE_OPEN_HOURS: &str = "Open Sat 9-12 | Open today until 7pm";
/// `Closed`'s usage line.
pub const USAGE_CLOSED: &str = "Closed today | Closed Fri | Closed 12/24";
/// `Normal`'s usage line.
pub const USAGE_NORMAL: &str = "Normal Fri";
/// `Why`'s usage line.
pub const USAGE_WHY: &str = "Why 12";
/// `Resolve`'s usage line.
pub const USAGE_RESOLVE: &str = "Resolve 12 13 | Resolve <phone or name>";
/// `Spam`'s usage line.
pub const USAGE_SPAM: &str = "Spam 12 | Spam <phone>";
/// `Note`'s usage line.
pub const USAGE_NOTE: &str = "Note 12 <text>";

/// Punctuation that ends a sentence and carries no meaning after a command or its ids.
const SENTENCE_END: [char; 3] = ['.', '!', '?'];

/// Ids have at most 9 digits, so a 10-digit run can only be a phone (SPEC §7).
const MAX_ID_DIGITS: usize = 9;

/// Whether a target may be a contact name.
enum Names {
    Allowed,
    Refused,
}

fn error(message: impl Into<String>, usage: &'static str) -> CommandError {
    CommandError { message: message.into(), usage }
}

/// Drops a leading `Sentinel`, `Sentinel:` or `Sentinel,` word.
fn strip_sentinel(text: &str) -> &str {
    let (word, rest) = split_word(text);
    if word.trim_end_matches([':', ',']).eq_ignore_ascii_case("sentinel") { rest } else { text }
}

/// Splits off the first word and the single whitespace run after it; the rest stays verbatim.
fn split_word(text: &str) -> (&str, &str) {
    text.find(char::is_whitespace).map_or((text, ""), |end| (&text[..end], text[end..].trim_start()))
}

/// A command that takes no argument; trailing punctuation alone is not an argument.
fn bare(command: Command, name: &'static str, rest: &str) -> Result<Command, CommandError> {
    if rest.trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace()).is_empty() {
        Ok(command)
    } else {
        Err(error(format!("{name} takes nothing after it, got \"{rest}\""), name))
    }
}

/// The argument's words, split on spaces and commas, ignoring a final `.`, `!` or `?`.
fn tokens(argument: &str) -> Vec<&str> {
    argument
        .trim_end_matches(SENTENCE_END)
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect()
}

/// The number a token spells if it looks like an id (`12` or `#12`), zero included.
fn id_number(token: &str) -> Option<i64> {
    let digits = token.strip_prefix('#').unwrap_or(token);
    let short = (1..=MAX_ID_DIGITS).contains(&digits.len());
    // Checking digits first keeps `+12` and `-1` out, which `str::parse` would accept.
    if short && digits.bytes().all(|b| b.is_ascii_digit()) { digits.parse().ok() } else { None }
}

/// One issue number, which must be positive because issues count from 1.
fn positive_id(token: &str, usage: &'static str) -> Result<i64, CommandError> {
    match id_number(token) {
        None if token.is_empty() => Err(error("missing the issue number", usage)),
        None => Err(error(format!("\"{token}\" is not an issue number"), usage)),
        Some(0) => Err(error(format!("issue numbers start at 1, got \"{token}\""), usage)),
        Some(id) => Ok(id),
    }
}

/// `Open` and `Why` name exactly one issue.
fn single_id(argument: &str, usage: &'static str) -> Result<i64, CommandError> {
    match tokens(argument).as_slice() {
        [] => Err(error("missing the issue number", usage)),
        [token] => positive_id(token, usage),
        _ => Err(error(format!("expected one issue number, got \"{argument}\""), usage)),
    }
}

/// What the argument names (SPEC §7: "the whole argument is a phone when it holds 10+ digits").
///
/// A phone wins when the argument holds 10+ digits in phone spelling, so `Spam 214 555 0199`
/// blocks that number instead of three issues. Space-separated ids that merely add up to 10
/// digits (`Resolve 12 13 14 15 16`) stay ids: they do not read as a North American number, and
/// `#` or commas always mean ids. Otherwise a name, where allowed.
fn target(argument: &str, usage: &'static str, names: Names) -> Result<Target, CommandError> {
    let words = tokens(argument);
    if words.is_empty() {
        // The usage line that follows lists the accepted forms, so the message stays short.
        return Err(error("say which issues", usage));
    }
    let all_ids = words.iter().all(|word| id_number(word).is_some());
    let digits: String = argument.chars().filter(char::is_ascii_digit).collect();
    if digits.len() > MAX_ID_DIGITS && (!all_ids || reads_as_phone(argument, &digits)) {
        let not_a_phone = || error(format!("\"{argument}\" is not a phone"), usage);
        return Phone::parse(argument).map(Target::Phone).ok_or_else(not_a_phone);
    }
    if all_ids {
        let ids = words.iter().map(|word| positive_id(word, usage)).collect::<Result<_, _>>()?;
        return Ok(Target::Ids(ids));
    }
    match names {
        Names::Allowed => Ok(Target::Name(argument.split_whitespace().collect::<Vec<_>>().join(" "))),
        Names::Refused => Err(error(format!("\"{argument}\" is not issue numbers or a 10-digit phone"), usage)),
    }
}

/// Whether digit groups separated only by spaces spell a North American number: 10 digits whose
/// area code starts with 2–9, optionally after a country code 1.
fn reads_as_phone(argument: &str, digits: &str) -> bool {
    let phone_spelling = argument.trim_end_matches(SENTENCE_END).chars().all(|c| c.is_ascii_digit() || c == ' ');
    let area_code = match digits.len() {
        10 => digits.chars().next(),
        11 if digits.starts_with('1') => digits.chars().nth(1),
        _ => None,
    };
    phone_spelling && area_code.is_some_and(|first| ('2'..='9').contains(&first))
}

/// `Closed Fri`, `Normal Fri`: exactly one day; with none, the reply asks which.
fn one_day(argument: &str, which: &str, usage: &'static str) -> Result<Day, CommandError> {
    match tokens(argument).as_slice() {
        [] => Err(error(which, usage)),
        [word] => Day::parse(word).ok_or_else(|| error(format!("\"{word}\" is not a day"), usage)),
        _ => Err(error(format!("expected one day, got \"{argument}\""), usage)),
    }
}

/// `Open Sat 9-12`: the day is known to parse; the hours follow it.
fn open_hours(day: &str, hours: &str) -> Result<Command, CommandError> {
    let day = Day::parse(day).ok_or_else(|| error(format!("\"{day}\" is not a day"), USAGE_OPEN_HOURS))?;
    match NewHours::parse(hours) {
        Ok(hours) => Ok(Command::Hours(HoursCommand::Open(day, hours))),
        Err(why) => Err(error(why, USAGE_OPEN_HOURS)),
    }
}

/// `Note 12 <text>`: the text is everything after the id and its following whitespace, verbatim.
fn note(rest: &str) -> Result<Command, CommandError> {
    let (token, text) = split_word(rest);
    // "Note 12: called back" reads naturally, so a colon or comma after the id is allowed.
    let id = positive_id(token.trim_end_matches([':', ',']), USAGE_NOTE)?;
    let text = text.trim_end();
    if text.is_empty() {
        return Err(error("the note text is missing", USAGE_NOTE));
    }
    Ok(Command::Note { id, text: text.to_string() })
}

/// What a command came to.
#[derive(Debug)]
pub struct Answer {
    /// The reply: for the sender and, after a change of hours, for every manager.
    pub reply: String,
    /// After a change of hours, the calendar in force (issue 18): the configured one with the
    /// special days as they now stand.
    pub hours: Option<crate::domain::calendar::Calendar>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Command) {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }

    /// The message names the problem, and the reply ends with the command's usage line.
    #[track_caller]
    fn fails(text: &str, words_in_message: &[&str]) {
        let err = parse(text).expect_err(text);
        for word in words_in_message {
            assert!(err.message.contains(word), "{text:?}: {:?} lacks {word:?}", err.message);
        }
        assert!(!err.usage.is_empty() && err.to_string().ends_with(&format!(" Usage: {}", err.usage)));
    }

    #[test]
    fn bare_and_single_id_commands() {
        check("sentinel list", Command::List);
        check("SENTINEL: More", Command::More);
        check("Sentinel, status", Command::Status);
        check("  List.\n", Command::List);
        check("help", Command::Help);
        check("Help?", Command::Help);
        check("?", Command::Help);
        check("Commands", Command::Help);
        check("open 12", Command::Open(12));
        check("Why #7", Command::Why(7));
        check("why 7.", Command::Why(7));
        check("Sentinel open 999999999", Command::Open(999_999_999));
        check("PIN", Command::Pin);
        check("pin.", Command::Pin);
        check("OK", Command::Ok);
        check("ok!", Command::Ok);
        check("Okay, got it", Command::Ok);
        check("Sentinel ok", Command::Ok);
    }

    #[test]
    fn resolve_spam_and_note_arguments() {
        let ids = |ids: &[i64]| Target::Ids(ids.to_vec());
        let phone = |raw: &str| Target::Phone(Phone::parse(raw).expect("test phone parses"));
        check("resolve #12,#13 14", Command::Resolve(ids(&[12, 13, 14])));
        check("Resolve #12, #13", Command::Resolve(ids(&[12, 13])));
        check("Resolve 2145550199", Command::Resolve(phone("+12145550199")));
        check("Resolve +1 (214) 555-0199", Command::Resolve(phone("+12145550199")));
        check("Resolve 214-555-0199", Command::Resolve(phone("+12145550199")));
        check("Resolve Carl Jones", Command::Resolve(Target::Name("Carl Jones".into())));
        check("resolve   Carl \t Jones  ", Command::Resolve(Target::Name("Carl Jones".into())));
        check("Spam 12 13", Command::Spam(ids(&[12, 13])));
        check("Spam +1 (214) 555-0199", Command::Spam(phone("+12145550199")));
        check("spam +44 20 7946 0958", Command::Spam(phone("+442079460958")));
        // 10+ digits spelled as a phone are a phone (SPEC §7), even split by spaces ...
        check("Spam 214 555 0199", Command::Spam(phone("+12145550199")));
        check("Resolve 1 214 555 0199", Command::Resolve(phone("+12145550199")));
        // ... but ids that only add up to 10 digits stay ids, and `#` or commas always mean ids.
        check("Resolve 12 13 14 15 16", Command::Resolve(ids(&[12, 13, 14, 15, 16])));
        check("Resolve 214,555,0199", Command::Resolve(ids(&[214, 555, 199])));
        check("Spam #214 #555 #0199", Command::Spam(ids(&[214, 555, 199])));
        // Notes are kept verbatim: only the whitespace right after the id and at the end goes.
        let note = |id, text: &str| Command::Note { id, text: text.to_string() };
        check("Note 3 keep, commas,  and spaces", note(3, "keep, commas,  and spaces"));
        check("note #3   Called back.\nWill visit Tue  \n", note(3, "Called back.\nWill visit Tue"));
        check("Sentinel note 3: gate code 1234", note(3, "gate code 1234"));
    }

    #[test]
    fn failures_say_what_was_wrong() {
        fails("", &["empty"]);
        fails("  Sentinel  ", &["empty"]);
        fails("Open", &["missing", "issue number"]);
        fails("Open abc", &["\"abc\"", "not an issue number"]);
        fails("Open 1 2", &["one issue number"]);
        fails("Why 12 please", &["one issue number"]);
        fails("Note 3", &["note text is missing"]);
        fails("Note", &["missing"]);
        fails("Note abc hello", &["\"abc\"", "not an issue number"]);
        fails("Spam Carl", &["\"Carl\"", "phone"]);
        fails("Spam", &["which issues"]);
        fails("Resolve", &["which issues"]);
        fails("Resolve 0", &["start at 1"]);
        fails("Resolve 12 #0", &["start at 1"]);
        fails("Frobnicate 3", &["unknown command \"Frobnicate\""]);
        fails("Sentinels list", &["unknown command"]);
        fails("List please", &["List", "please"]);
        let usage = |text: &str| parse(text).expect_err(text).usage;
        assert_eq!([usage("Open abc"), usage("Spam Carl"), usage("Note 3")], [USAGE_OPEN, USAGE_SPAM, USAGE_NOTE]);
        assert_eq!(usage("Frobnicate"), USAGE_ALL);
        assert_eq!(parse("Why").map_err(|err| err.to_string()), Err("missing the issue number. Usage: Why 12".into()));
    }

    #[test]
    fn help_lists_every_command_in_one_sms() {
        assert!(HELP.len() < 600, "{}", HELP.len());
        for word in [
            "List", "More", "Open", "Resolve", "Spam", "Note", "Why", "Closed", "Normal", "Hours", "Status", "Pin",
            "Help",
        ] {
            assert!(HELP.lines().any(|line| line.starts_with(word)), "{word}");
        }
    }

    #[test]
    fn hours_commands_name_a_day() {
        use crate::domain::hours::{Day, NewHours};
        use jiff::civil::Weekday;
        check("Closed today", Command::Hours(HoursCommand::Closed(Day::Today)));
        check("Sentinel closed Fri.", Command::Hours(HoursCommand::Closed(Day::Weekday(Weekday::Friday))));
        check("close 12/24", Command::Hours(HoursCommand::Closed(Day::MonthDay { month: 12, day: 24 })));
        check("Normal friday", Command::Hours(HoursCommand::Normal(Day::Weekday(Weekday::Friday))));
        check("Hours", Command::Hours(HoursCommand::Week));
        check("hours?", Command::Hours(HoursCommand::Week));
        check(
            "Open Sat 9-12",
            Command::Hours(HoursCommand::Open(Day::Weekday(Weekday::Saturday), NewHours::Intervals(vec![(540, 720)]))),
        );
        check("open today until 7pm", Command::Hours(HoursCommand::Open(Day::Today, NewHours::Until(19 * 60))));
        // A bare number is still an issue; a date is a day.
        check("Open 12", Command::Open(12));
        check(
            "Open 12/24 8-12",
            Command::Hours(HoursCommand::Open(
                Day::MonthDay { month: 12, day: 24 },
                NewHours::Intervals(vec![(480, 720)]),
            )),
        );
        fails("Closed", &["which day"]);
        fails("Normal", &["which day"]);
        fails("Closed someday", &["\"someday\"", "not a day"]);
        fails("Closed Fri Sat", &["one day"]);
        fails("Open Sat", &["say the hours"]);
        fails("Open Sat late", &["\"late\""]);
        fails("Hours please", &["Hours", "please"]);
        let usage = |text: &str| parse(text).expect_err(text).usage;
        assert_eq!(
            [usage("Closed"), usage("Open today"), usage("Normal x")],
            [USAGE_CLOSED, USAGE_OPEN_HOURS, USAGE_NORMAL]
        );
        assert_eq!(
            parse("Closed").map_err(|err| err.to_string()),
            Err("which day is closed? Usage: Closed today | Closed Fri | Closed 12/24".into())
        );
    }
}
