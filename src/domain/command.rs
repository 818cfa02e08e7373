//! Managers' SMS commands (SPEC §7): parsing a text into a [`Command`].
//!
//! Case-insensitive, with an optional leading `Sentinel`. Ids are `12` or `#12`, several
//! separated by spaces or commas. A failure says what was wrong and shows the usage, so every
//! command gets a useful reply. Carrying commands out is `store::commands`' job.

use super::phone::Phone;

/// Which issues a Resolve or Spam command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Issue numbers.
    Ids(Vec<i64>),
    /// A phone: the whole argument held 10 or more digits, normalised.
    Phone(Phone),
    /// A contact name (Resolve only), as typed, with spaces collapsed.
    Name(String),
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The OPEN issues, first page.
    List,
    /// The next page.
    More,
    /// A party's name, phone and GHL link.
    Open(i64),
    /// Resolve issues.
    Resolve(Target),
    /// Mark spam and block the phone.
    Spam(Target),
    /// Append a note, verbatim.
    Note {
        /// Issue number.
        id: i64,
        /// The note as typed.
        text: String,
    },
    /// Explain the due time and show the timeline.
    Why(i64),
    /// Appliance health in one SMS.
    Status,
    /// The command list.
    Help,
}

/// A command that could not be understood: what was wrong, and the usage to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// What was wrong.
    pub message: String,
    /// How to write it.
    pub usage: &'static str,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}. Usage: {}", self.message, self.usage)
    }
}

/// The Help reply.
pub const HELP: &str = "Sentinel commands:
List - open issues, 5 at a time
More - the next 5
Open 12 - name, phone and GHL link
Resolve 12 13 | Resolve <phone or name>
Spam 12 | Spam <phone>
Note 12 <text>
Why 12 - due time and history
Status - appliance health
Help - this list";

const ALL: &str = "List | More | Open 12 | Resolve 12 | Spam 12 | Note 12 <text> | Why 12 | Status | Help";
const USAGE_OPEN: &str = "Open 12";
const USAGE_WHY: &str = "Why 12";
const USAGE_RESOLVE: &str = "Resolve 12 13 | Resolve <phone or name>";
const USAGE_SPAM: &str = "Spam 12 | Spam <phone>";
const USAGE_NOTE: &str = "Note 12 <text>";

/// Issue numbers are short; a longer run of digits is a phone.
const MAX_ID_DIGITS: usize = 9;
/// An argument with this many digits in total is a phone (SPEC §7).
const PHONE_DIGITS: usize = 10;

fn error(message: impl Into<String>, usage: &'static str) -> CommandError {
    CommandError { message: message.into(), usage }
}

/// Parses a manager's text.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let text = text.trim();
    let text = strip_prefix_word(text, "sentinel")
        .map(|rest| rest.trim_start_matches([':', ',']).trim_start())
        .unwrap_or(text);
    let (word, rest) = match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    };
    let word = word.trim_end_matches(['.', '!', '?']).to_lowercase();
    let bare = |command: Command, usage: &'static str| {
        if rest.trim_end_matches(['.', '!', '?']).trim().is_empty() {
            Ok(command)
        } else {
            Err(error(format!("{} takes nothing after it", title(&word)), usage))
        }
    };
    match word.as_str() {
        "" if text.starts_with('?') => Ok(Command::Help),
        "" => Err(error("the text is empty", ALL)),
        "list" => bare(Command::List, "List"),
        "more" => bare(Command::More, "More"),
        "status" => bare(Command::Status, "Status"),
        "help" | "commands" => bare(Command::Help, "Help"),
        "open" => one_id(rest, USAGE_OPEN).map(Command::Open),
        "why" => one_id(rest, USAGE_WHY).map(Command::Why),
        "resolve" => target(rest, USAGE_RESOLVE, true).map(Command::Resolve),
        "spam" => target(rest, USAGE_SPAM, false).map(Command::Spam),
        "note" => note(rest),
        _ if word.starts_with('?') => Ok(Command::Help),
        other => Err(error(format!("unknown command \"{other}\""), ALL)),
    }
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `text` without a leading `word` (case-insensitive, whole word).
fn strip_prefix_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    (head.eq_ignore_ascii_case(word) && rest.chars().next().is_none_or(|c| !c.is_alphanumeric())).then_some(rest)
}

/// One id: `12` or `#12`, positive.
fn parse_id(token: &str) -> Option<i64> {
    let digits = token.strip_prefix('#').unwrap_or(token);
    if digits.is_empty() || digits.len() > MAX_ID_DIGITS || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

fn ids(argument: &str) -> Option<Vec<i64>> {
    let tokens: Vec<&str> = argument.split([' ', ',', '\t']).filter(|t| !t.is_empty()).collect();
    if tokens.is_empty() {
        return None;
    }
    tokens.into_iter().map(parse_id).collect()
}

fn one_id(argument: &str, usage: &'static str) -> Result<i64, CommandError> {
    match ids(argument).as_deref() {
        Some([id]) => Ok(*id),
        Some(_) => Err(error("give one issue number", usage)),
        None if argument.is_empty() => Err(error("an issue number is missing", usage)),
        None => Err(error(format!("\"{argument}\" is not an issue number"), usage)),
    }
}

fn target(argument: &str, usage: &'static str, names: bool) -> Result<Target, CommandError> {
    let argument = argument.trim();
    if argument.is_empty() {
        return Err(error("say which issues", usage));
    }
    if let Some(ids) = ids(argument) {
        return Ok(Target::Ids(ids));
    }
    if argument.chars().filter(char::is_ascii_digit).count() >= PHONE_DIGITS {
        return Phone::parse(argument)
            .map(Target::Phone)
            .ok_or_else(|| error(format!("\"{argument}\" is not a phone number"), usage));
    }
    let has_digit = argument.chars().any(|c| c.is_ascii_digit());
    if names && !has_digit {
        return Ok(Target::Name(argument.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    if names {
        Err(error(format!("\"{argument}\" is neither issue numbers, a phone nor a name"), usage))
    } else {
        Err(error(format!("\"{argument}\" is neither issue numbers nor a phone"), usage))
    }
}

fn note(argument: &str) -> Result<Command, CommandError> {
    let (id, text) = match argument.find(char::is_whitespace) {
        Some(at) => (&argument[..at], argument[at..].trim_start()),
        None => (argument, ""),
    };
    let Some(id) = parse_id(id) else {
        return Err(error(
            if id.is_empty() {
                "an issue number is missing".to_string()
            } else {
                format!("\"{id}\" is not an issue number")
            },
            USAGE_NOTE,
        ));
    };
    let text = text.trim_end();
    if text.is_empty() {
        return Err(error("the note is empty", USAGE_NOTE));
    }
    Ok(Command::Note { id, text: text.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Command) {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }

    #[track_caller]
    fn fails(text: &str, words: &str) {
        match parse(text) {
            Ok(command) => panic!("{text:?} parsed as {command:?}"),
            Err(err) => assert!(err.to_string().contains(words), "{text:?}: {err}"),
        }
    }

    fn phone(text: &str) -> Phone {
        Phone::parse(text).expect("a phone")
    }

    #[test]
    fn commands_parse() {
        check("List", Command::List);
        check("sentinel list", Command::List);
        check("SENTINEL: More", Command::More);
        check("Sentinel, status", Command::Status);
        check("  list.  ", Command::List);
        check("help", Command::Help);
        check("Help?", Command::Help);
        check("?", Command::Help);
        check("commands", Command::Help);
        check("open 12", Command::Open(12));
        check("Open #12", Command::Open(12));
        check("Why #7", Command::Why(7));
        check("resolve #12,#13 14", Command::Resolve(Target::Ids(vec![12, 13, 14])));
        check("Resolve 12 13", Command::Resolve(Target::Ids(vec![12, 13])));
        check("Resolve 2145550199", Command::Resolve(Target::Phone(phone("+12145550199"))));
        check("Resolve +1 (214) 555-0199", Command::Resolve(Target::Phone(phone("+12145550199"))));
        check("Resolve Carl Jones", Command::Resolve(Target::Name("Carl Jones".into())));
        check("resolve  carl   jones ", Command::Resolve(Target::Name("carl jones".into())));
        check("Spam 12", Command::Spam(Target::Ids(vec![12])));
        check("Spam 12 13", Command::Spam(Target::Ids(vec![12, 13])));
        check("Spam +1 (214) 555-0199", Command::Spam(Target::Phone(phone("+12145550199"))));
        check("spam 214.555.0199", Command::Spam(Target::Phone(phone("+12145550199"))));
        check("Note 3 keep, commas,  and spaces", Command::Note { id: 3, text: "keep, commas,  and spaces".into() });
        check("note #3   Called back, no answer.\n", Command::Note { id: 3, text: "Called back, no answer.".into() });
        check("Sentinel Note 4 Resolve this tomorrow", Command::Note { id: 4, text: "Resolve this tomorrow".into() });
    }

    #[test]
    fn mistakes_explain_themselves() {
        fails("", "empty");
        fails("   ", "empty");
        fails("Open", "Usage: Open 12");
        fails("Open abc", "\"abc\" is not an issue number");
        fails("Open 1 2", "give one issue number");
        fails("Why", "Usage: Why 12");
        fails("Note 3", "the note is empty");
        fails("Note abc hello", "\"abc\" is not an issue number");
        fails("Note", "Usage: Note 12 <text>");
        fails("Spam Carl", "Usage: Spam 12 | Spam <phone>");
        fails("Resolve", "Usage: Resolve");
        fails("Resolve 0", "Usage: Resolve");
        fails("Resolve 12 abc3", "neither");
        fails("Frobnicate 3", "unknown command \"frobnicate\"");
        fails("List please", "List takes nothing");
        fails("Sentinelist", "unknown command");
    }

    #[test]
    fn help_fits_one_sms() {
        assert!(HELP.len() < 600);
    }
}
