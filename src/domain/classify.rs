//! TEMPORARY compile shim; replaced by the real classifier.
pub fn is_acknowledgement(text: &str, _max: usize) -> bool {
    text == "ok"
}
