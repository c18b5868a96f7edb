//! The queue a storage uses when none is set: one queue per job type.

/// The default queue name of job type `T`: the type's own name, without its module path, in
/// `snake_case`. Generic arguments are named the same way and joined with `_`.
///
/// | job type | queue |
/// |---|---|
/// | `my_app::jobs::Email` | `email` |
/// | `crate::ReportJob` | `report_job` |
/// | `HTTPRequest` | `http_request` |
/// | `Wrapper<my_app::Email>` | `wrapper_email` |
/// | `String` | `string` |
///
/// The rule is stable: moving the type to another module or crate keeps its queue, so tasks
/// already stored are still found. Renaming the type changes it; to rename a job type with
/// tasks in flight, or to give two job types of the same name their own queues, set the queue
/// explicitly in the storage's config. A type whose name has no letters or digits (`()`) gets
/// the queue `default`.
///
/// ```
/// mod billing {
///     pub struct SendInvoice;
/// }
/// assert_eq!(drover_core::default_queue_name::<billing::SendInvoice>(), "send_invoice");
/// assert_eq!(drover_core::default_queue_name::<Vec<billing::SendInvoice>>(), "vec_send_invoice");
/// ```
pub fn default_queue_name<T: ?Sized>() -> String {
    queue_name_of(std::any::type_name::<T>())
}

/// The queue a storage of job type `T` uses: `explicit` when a config set one, otherwise
/// [`default_queue_name`]. Every backend's constructor calls this, so the rule is in one place.
pub fn resolve_queue_name<T: ?Sized>(explicit: Option<&str>) -> String {
    explicit.map_or_else(default_queue_name::<T>, str::to_owned)
}

/// [`default_queue_name`] of a type name as `std::any::type_name` writes it.
fn queue_name_of(type_name: &str) -> String {
    let mut words: Vec<&str> = Vec::new();
    let mut start = None;
    let bytes = type_name.as_bytes();
    for (i, c) in type_name.char_indices() {
        if c.is_alphanumeric() || c == '_' {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            // A word followed by `::` is a module (or crate) name: drop it.
            let is_path = c == ':' && bytes.get(i + 1) == Some(&b':');
            if !is_path {
                words.push(&type_name[s..i]);
            }
        }
    }
    if let Some(s) = start {
        words.push(&type_name[s..]);
    }
    let name = words.iter().map(|w| snake_case(w)).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("_");
    if name.is_empty() {
        "default".to_owned()
    } else {
        name
    }
}

/// `ReportJob` → `report_job`, `HTTPRequest` → `http_request`, `already_snake` unchanged.
fn snake_case(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_is_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    // `Foo_Bar` would otherwise become `foo__bar`.
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    out.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::queue_name_of;

    #[test]
    fn names_follow_the_type_not_its_module() {
        let cases = [
            ("my_app::jobs::Email", "email"),
            ("Email", "email"),
            ("other_crate::deep::er::Email", "email"),
            ("crate::ReportJob", "report_job"),
            ("HTTPRequest", "http_request"),
            ("my::V2Job", "v2_job"),
            ("alloc::string::String", "string"),
            ("alloc::vec::Vec<my_app::Email>", "vec_email"),
            ("core::option::Option<alloc::vec::Vec<u8>>", "option_vec_u8"),
            ("(u32, alloc::string::String)", "u32_string"),
            ("&str", "str"),
            ("snake_case_type", "snake_case_type"),
            ("Foo_Bar", "foo_bar"),
            ("()", "default"),
        ];
        for (type_name, queue) in cases {
            assert_eq!(queue_name_of(type_name), queue, "{type_name}");
        }
    }

    #[test]
    fn the_real_type_name_is_used() {
        struct ReportJob;
        assert_eq!(super::default_queue_name::<ReportJob>(), "report_job");
        assert_eq!(super::default_queue_name::<String>(), "string");
    }
}
