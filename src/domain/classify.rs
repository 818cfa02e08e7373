//! Acknowledgement detection: is a customer's text only "thanks", "ok", 👍 or a tapback?
//!
//! After a staff reply, a text that only acknowledges opens no issue (SPEC §5.3). The store calls
//! [`is_acknowledgement`]; [`classify`] also says why, for logs and the issue timeline. The text
//! is normalised and split into words and emoji, and it is an ack only when every token is an
//! ack phrase, a filler word or a happy emoji. Matching whole tokens means "Thanksgiving" never
//! matches "thanks", and any word we do not know keeps the text an issue.

/// Why a text is or is not an acknowledgement — handy for logs and the issue timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The text only acknowledges; after a staff reply it opens no issue.
    Ack(AckKind),
    /// The text may need an answer, so it is treated as any other text.
    NotAck(NotAckReason),
}

/// What kind of acknowledgement a text is.
#[derive(Debug, Clone, PartialEq)]
pub enum AckKind {
    /// Ack words, perhaps with happy emoji: "got it, thanks 🙏".
    Words,
    /// Only happy emoji: "👍🏽".
    Emoji,
    /// A positive iMessage tapback: `Liked "See you Tuesday"`.
    Tapback,
}

/// Why a text is not an acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum NotAckReason {
    /// Nothing but whitespace or punctuation.
    Empty,
    /// Longer than `max_len`; holds the text's length in characters.
    TooLong(usize),
    /// Contains a question mark.
    Question,
    /// Contains a request or problem word, such as "please", "also" or "leaking".
    Request(&'static str),
    /// Contains an unhappy emoji, such as 😡 or 👎.
    UnhappyEmoji(char),
    /// A `Disliked` or `Questioned` tapback.
    NegativeTapback,
    /// Contains a word or emoji outside the ack vocabulary (the first one is kept).
    Unrecognised(String),
    /// Only filler words, such as "so much".
    OnlyFiller,
}

/// Classifies `text`; texts longer than `max_len` characters (not bytes) are never acks.
pub fn classify(text: &str, max_len: usize) -> Verdict {
    let (normalised, chars) = normalise(text);
    if normalised.is_empty() {
        return Verdict::NotAck(NotAckReason::Empty);
    }
    // A tapback quotes the staff's own message, so its length says nothing about the customer.
    if let Some(verdict) = tapback(&normalised) {
        return verdict;
    }
    if chars > max_len {
        return Verdict::NotAck(NotAckReason::TooLong(chars));
    }
    if normalised.contains(['?', '？', '¿']) {
        return Verdict::NotAck(NotAckReason::Question);
    }
    let tokens = tokenise(&normalised);
    if tokens.is_empty() {
        return Verdict::NotAck(NotAckReason::Empty);
    }
    match cover(&tokens) {
        Ok(kind) => Verdict::Ack(kind),
        Err(reason) => Verdict::NotAck(reason),
    }
}

/// How long after a staff reply a customer's "thanks" still closes the thread
/// (`ACK_CLOSE_WINDOW_MODE`, as the original had it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AckWindow {
    /// Until the close of the business day of the staff reply (`eod`, the default).
    EndOfBusinessDay,
    /// For this long after the staff reply (`hours`, with `ACK_CLOSE_WINDOW_HOURS`).
    Hours(jiff::SignedDuration),
    /// Any time after the staff reply (`ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK=1`).
    Unlimited,
}

impl AckWindow {
    /// Whether an acknowledgement at `now` still answers the staff reply at `replied_at`.
    pub fn covers(
        self,
        calendar: &super::calendar::Calendar,
        replied_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> bool {
        if now < replied_at {
            return false;
        }
        match self {
            AckWindow::EndOfBusinessDay => calendar.business_day_end(replied_at).is_none_or(|end| now <= end),
            AckWindow::Hours(hours) => now.duration_since(replied_at) <= hours,
            AckWindow::Unlimited => true,
        }
    }
}

/// True when [`classify`] says `text` is an acknowledgement.
pub fn is_acknowledgement(text: &str, max_len: usize) -> bool {
    matches!(classify(text, max_len), Verdict::Ack(_))
}

// === vocabulary ===

/// Whole phrases that acknowledge. `<day>` stands for any word in `DAYS`. "yes", "no", "sure"
/// and "yeah" are missing on purpose: they answer a staff question that may need acting on.
#[rustfmt::skip]
const ACK_PHRASES: &[&str] = &[
    "thanks", "thank you", "thank u", "thankyou", "thanx", "thnx", "thnks", "thks", "thx", "ty",
    "tysm", "tyvm", "many thanks", "thanks a lot", "thanks a bunch", "thanks a million", "cheers",
    "for everything", "for the update", "for the info", "for letting me know", "for your help",
    "for the help", "for that", "for coming out", "appreciate it", "appreciate you",
    "appreciate that", "i appreciate it", "i appreciate you", "i appreciate that", "appreciated",
    "much appreciated", "greatly appreciated", "ok", "okay", "k", "kk", "okey", "okie", "oki",
    "okey dokey", "okie dokie", "alright", "all right", "sounds good", "sounds great",
    "sounds perfect", "sounds good to me", "sounds like a plan", "perfect", "great", "awesome",
    "excellent", "wonderful", "fantastic", "amazing", "nice", "cool", "sweet", "good", "lovely",
    "great job", "good job", "great work", "nice work", "well done", "will do", "got it", "gotcha",
    "understood", "noted", "roger", "roger that", "copy that", "makes sense", "that works",
    "works for me", "fine", "we're good", "were good", "we are good", "all good", "i'm good",
    "im good", "all set", "we're all set", "we're set", "you're the best", "youre the best",
    "you rock", "fixed", "fixed it", "i fixed it", "we fixed it", "it's fixed", "its fixed",
    "figured it out", "i figured it out", "it works", "it's working", "its working", "working now",
    "never mind", "nevermind", "nvm", "no worries", "no problem", "not a problem", "np", "no prob",
    "see you", "see you <day>", "see ya", "see ya <day>", "talk soon", "have a good day",
    "have a great day", "have a nice day", "have a good one", "have a good weekend",
    "have a great weekend",
];

/// Words that follow "see you" in an ack: "see you Tuesday".
#[rustfmt::skip]
const DAYS: &[&str] = &[
    "then", "soon", "later", "today", "tonight", "tomorrow", "monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday",
];

/// Words that add warmth but no meaning. Names are missing on purpose: a word we do not know
/// might be the start of a request.
#[rustfmt::skip]
const FILLERS: &[&str] = &[
    "so", "much", "very", "really", "you", "u", "again", "guys", "all", "and", "oh", "ah", "hey",
    "just", "too", "now", "sir", "ma'am", "maam", "man", "buddy", "team", "everyone", "y'all",
    "yall", "folks", "both", "that's", "thats", "as", "always", "lol", "haha",
];

/// Words and phrases that ask for something or report a problem. An unknown word already makes
/// a text not an ack; this list only names the reason, unless an ack phrase covers the word, as
/// "help" in "thanks for your help".
#[rustfmt::skip]
const REQUEST_PHRASES: &[&str] = &[
    "can you", "could you", "would you", "will you", "can u", "could u", "can someone", "can we",
    "could we", "can i", "could i", "do you", "are you", "is it", "is there", "let me know",
    "please", "pls", "plz", "need", "needs", "needed", "want", "help", "when", "what", "where",
    "why", "how", "who", "which", "if", "also", "but", "however", "though", "although", "still",
    "check", "come", "coming", "send", "call", "schedule", "reschedule", "cancel", "fix", "repair",
    "replace", "broken", "broke", "problem", "problems", "issue", "issues", "leak", "leaks",
    "leaking", "cloudy", "green", "algae", "noise", "noisy", "not", "isn't", "isnt", "doesn't",
    "doesnt", "don't", "dont", "won't", "can't", "cant", "cannot", "wrong", "error", "invoice",
    "bill", "charge", "refund", "quote", "price", "urgent", "asap", "emergency",
];

const HAPPY_EMOJI: &str = "👍👌🙏😊🙂☺😀😃😄😁😆😂🤣😉😍🥰😘🤗🤩😎😇❤💕💖💗💙💚💛💜🧡🤍💯✅✔☑🙌👏🎉🥳✨⭐🌟💪🤝👋🤙✌🆗";

const UNHAPPY_EMOJI: &str = "😡😠🤬😤😞😢😭😩😫😒🙁☹😟😕👎💔😱😰😨😖😣🤔🙄❓❗⚠❌🚨";

const GOOD_TAPBACKS: &[&str] = &["liked", "loved", "laughed at", "emphasized", "emphasised"];
const BAD_TAPBACKS: &[&str] = &["disliked", "questioned"];
/// What a tapback names when it reacts to something other than text.
const TAPBACK_OBJECTS: &[&str] = &["an image", "a photo", "a video", "a movie", "an attachment"];

// === helpers ===

/// One unit of a normalised text.
#[derive(Debug, Clone, Copy)]
enum Token<'a> {
    Word(&'a str),
    Emoji(char),
}

/// Lowercases, straightens curly quotes and collapses whitespace; also counts the characters
/// before lowercasing, since lowercasing can change the count ("İ" becomes two).
fn normalise(text: &str) -> (String, usize) {
    let mut normalised = String::with_capacity(text.len());
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            normalised.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            chars += 1;
            match c {
                '\u{2018}' | '\u{2019}' | '\u{201B}' | '`' | '\u{B4}' => normalised.push('\''),
                '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{AB}' | '\u{BB}' => normalised.push('"'),
                _ => normalised.extend(c.to_lowercase()),
            }
        }
    }
    (normalised, chars)
}

/// The verdict for an iMessage tapback such as `liked "see you tuesday"`, or `None` when the
/// text is not one.
fn tapback(normalised: &str) -> Option<Verdict> {
    let is_object = |rest: &str| {
        (rest.len() >= 2 && rest.starts_with('"') && rest.ends_with('"')) || TAPBACK_OBJECTS.contains(&rest)
    };
    let reacts = |verbs: &[&str]| {
        verbs.iter().any(|verb| {
            let rest = normalised.strip_prefix(verb).and_then(|rest| rest.strip_prefix(' '));
            rest.is_some_and(is_object)
        })
    };
    if reacts(GOOD_TAPBACKS) {
        return Some(Verdict::Ack(AckKind::Tapback));
    }
    if reacts(BAD_TAPBACKS) {
        return Some(Verdict::NotAck(NotAckReason::NegativeTapback));
    }
    // iOS 17 and later: `Reacted 👍 to "…"`.
    let (emoji, object) = normalised.strip_prefix("reacted ")?.split_once(" to ")?;
    if !is_object(object) {
        return None;
    }
    Some(match cover(&tokenise(emoji)) {
        Ok(AckKind::Emoji) => Verdict::Ack(AckKind::Tapback),
        Ok(_) => Verdict::NotAck(NotAckReason::Unrecognised(emoji.to_string())),
        Err(reason) => Verdict::NotAck(reason),
    })
}

/// Splits a normalised text into words and emoji; punctuation, skin tones, variation selectors
/// and joiners only separate tokens.
fn tokenise(normalised: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (at, c) in normalised.char_indices().chain([(normalised.len(), ' ')]) {
        if c.is_alphanumeric() || c == '\'' {
            start.get_or_insert(at);
            continue;
        }
        if let Some(from) = start.take() {
            let word = normalised[from..at].trim_matches('\'');
            if !word.is_empty() {
                tokens.push(Token::Word(word));
            }
        }
        if is_pictograph(c) {
            tokens.push(Token::Emoji(c));
        }
    }
    tokens
}

fn is_pictograph(c: char) -> bool {
    let modifier = matches!(c, '\u{1F3FB}'..='\u{1F3FF}' | '\u{FE0E}' | '\u{FE0F}' | '\u{200D}');
    let pictograph = matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}'
        | '\u{2B00}'..='\u{2BFF}' | '\u{2300}'..='\u{23FF}' | '\u{2190}'..='\u{21FF}');
    !modifier && pictograph
}

/// How many tokens `phrase` covers when it starts at `tokens[at]`.
fn phrase_at(tokens: &[Token<'_>], at: usize, phrase: &str) -> Option<usize> {
    let mut len = 0;
    for expected in phrase.split(' ') {
        match tokens.get(at + len) {
            Some(Token::Word(word)) if *word == expected => len += 1,
            Some(Token::Word(word)) if expected == "<day>" && DAYS.contains(word) => len += 1,
            _ => return None,
        }
    }
    Some(len)
}

/// Covers the tokens with ack phrases (longest first), fillers and happy emoji; any token left
/// over makes the text not an ack.
fn cover(tokens: &[Token<'_>]) -> Result<AckKind, NotAckReason> {
    let (mut words, mut emoji, mut uncovered) = (false, false, Vec::new());
    let mut at = 0;
    while at < tokens.len() {
        let longest = ACK_PHRASES.iter().filter_map(|phrase| phrase_at(tokens, at, phrase)).max();
        if let Some(len) = longest {
            words = true;
            at += len;
            continue;
        }
        match tokens[at] {
            Token::Word(word) if FILLERS.contains(&word) => {}
            Token::Emoji(c) if HAPPY_EMOJI.contains(c) => emoji = true,
            Token::Emoji(c) if UNHAPPY_EMOJI.contains(c) => {
                return Err(NotAckReason::UnhappyEmoji(c));
            }
            _ => uncovered.push(at),
        }
        at += 1;
    }
    for &at in &uncovered {
        if let Some(phrase) = REQUEST_PHRASES.iter().find(|phrase| phrase_at(tokens, at, phrase).is_some()) {
            return Err(NotAckReason::Request(phrase));
        }
    }
    match (uncovered.first().map(|&at| tokens[at]), words, emoji) {
        (Some(Token::Word(word)), _, _) => Err(NotAckReason::Unrecognised(word.to_string())),
        (Some(Token::Emoji(c)), _, _) => Err(NotAckReason::Unrecognised(c.to_string())),
        (None, true, _) => Ok(AckKind::Words),
        (None, false, true) => Ok(AckKind::Emoji),
        (None, false, false) => Err(NotAckReason::OnlyFiller),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The length the app uses (`ACK_CLOSE_MAX_LEN`).
    const MAX: usize = 60;

    fn check(text: &str, max_len: usize, ack: bool) {
        let verdict = classify(text, max_len);
        assert_eq!(matches!(verdict, Verdict::Ack(_)), ack, "{text:?} (max_len {max_len}): {verdict:?}");
        assert_eq!(is_acknowledgement(text, max_len), ack, "{text:?}");
    }

    #[test]
    fn acknowledgements_and_not() {
        #[rustfmt::skip]
        let acks = [
            "Thanks!", "thank you 🙏", "👍", "ok", "we're good", "Liked “See you Tuesday”",
            "fixed it, thanks", "Got it, thanks", "Thank you so much!!", "👍🏽", "ok 👍",
            "Loved “Sounds good”", "Thank you", "thanks!!!", "THANK YOU.", "okay", "k", "kk", "thx",
            "ty", "tysm", "sounds good", "Perfect", "great", "awesome", "will do", "got it", "cool",
            "appreciate it", "We’re good", "all good", "never mind", "nvm", "no worries",
            "see you then", "See you Tuesday!", "ok thanks", "got it, thank you so much!",
            "perfect thanks 🙏", "❤️", "🙏🏼🙏🏼", "👍👌😊", "🙌", "thanks again guys",
            "Thanks for your help", "Laughed at “lol”", "Emphasized “We’ll be there at 9”",
            "Reacted 👍 to “see you Tuesday”", "Liked an image", "Ok, sounds good!",
            "  thank   you  ", "fixed it", "Thanks 😊", "👏👏",
        ];
        for text in acks {
            check(text, MAX, true);
        }
        #[rustfmt::skip]
        let not_acks = [
            "ok thanks, also can you check the heater?", "The pool looks pretty cloudy",
            "My pool party is tomorrow, ok?", "Yes", "No", "?",
            "thanks but the pump is still making noise", "Okay when are you coming?",
            "Thanksgiving hours?", "thank you, please send the invoice",
            "Disliked “See you Tuesday”", "", "   ", "okay the filter is leaking again",
            "thanks for nothing 😡", "Thanksgiving hours", "okay?", "yes thanks", "sure", "nope",
            "Questioned “See you Tuesday”", "Reacted 😡 to “see you Tuesday”", "👎", "😢",
            "the water is green", "thanks John", "so much", "...", "ok 🏊", "Liked", "ok need help",
            "tokay", "oktober", "thanks for the help, the pool is still green",
            "when can you come look at it?", "thanks but the pump is still leaking",
        ];
        for text in not_acks {
            check(text, MAX, false);
        }
        check("ok", 1, false);
        check("ok", 2, true);
    }

    #[test]
    fn max_len_counts_characters_not_bytes() {
        // Four characters, sixteen bytes.
        check("👍👍👍👍", 4, true);
        check("👍👍👍👍", 3, false);
        check("thank you 🙏", 11, true);
        check("thank you 🙏", 10, false);
        // Runs of whitespace count once, as they do after normalising.
        check("  ok    thanks ", 9, true);
        assert_eq!(classify("thank you 🙏", 10), Verdict::NotAck(NotAckReason::TooLong(11)));
    }

    #[test]
    fn tapbacks_ignore_the_length_of_the_staff_text_they_quote() {
        let quote =
            format!("Liked “{}”", "We will come by Tuesday between 9 and 11 to replace the cartridge. ".repeat(3));
        check(&quote, MAX, true);
        check("Liked “can you come Tuesday?”", MAX, true);
    }

    #[test]
    fn verdicts_name_the_reason() {
        use NotAckReason::*;
        let reason = |text| match classify(text, MAX) {
            Verdict::NotAck(reason) => reason,
            ack => panic!("{text:?} should not be an ack: {ack:?}"),
        };
        assert_eq!(classify("thanks!", MAX), Verdict::Ack(AckKind::Words));
        assert_eq!(classify("👍🏽", MAX), Verdict::Ack(AckKind::Emoji));
        assert_eq!(classify("Liked “See you Tuesday”", MAX), Verdict::Ack(AckKind::Tapback));
        assert_eq!(reason("  "), Empty);
        assert_eq!(reason("ok?"), Question);
        assert_eq!(reason("okay the filter is leaking again"), Request("leaking"));
        assert_eq!(reason("ok, can you check it"), Request("can you"));
        assert_eq!(reason("thanks for nothing 😡"), UnhappyEmoji('😡'));
        assert_eq!(reason("Disliked “See you Tuesday”"), NegativeTapback);
        assert_eq!(reason("Thanksgiving hours"), Unrecognised("thanksgiving".to_string()));
        assert_eq!(reason("Yes"), Unrecognised("yes".to_string()));
        assert_eq!(reason("so much"), OnlyFiller);
    }
}
