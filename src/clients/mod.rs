//! The clients of outside services other than GHL (whose client is `ghl/`): the optional
//! OpenAI-compatible endpoint (`ai`) and the notification webhooks (`notify`). Their pure
//! parts (what to ask, what to send) live in `domain::ai` and `domain::notify`.

pub mod ai;
pub mod notify;
