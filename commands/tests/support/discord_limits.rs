//! Discord's documented limits on what a bot sends, checked by the fake Discord on every request
//! (JSON bodies and multipart `payload_json`): messages and their edits, interaction callbacks,
//! webhook edits and follow-ups, autocomplete answers and command registration. A request that
//! breaks one is answered as Discord answers it: `400 {"code": 50035, "message": "Invalid Form
//! Body", "errors": {...}}` with the offending fields (files over the upload limit: `413`, code
//! 40005). Lengths are counted in Unicode code points, as Discord counts them.
//!
//! Sources: discord.com/developers/docs — resources/message (content), resources/message#embed
//! limits, components/reference (action rows, buttons, string selects), interactions/
//! receiving-and-responding (autocomplete), interactions/application-commands (registration),
//! reference#uploading-files (10 files; the upload limit, or the interaction's
//! `attachment_size_limit`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

/// The upload limit per file where no interaction says otherwise.
pub const UPLOAD_LIMIT: u64 = 25 * 1024 * 1024;

pub const CONTENT: usize = 2000;
pub const EMBEDS: usize = 10;
pub const EMBED_TITLE: usize = 256;
pub const EMBED_DESCRIPTION: usize = 4096;
pub const EMBED_FIELDS: usize = 25;
pub const FIELD_NAME: usize = 256;
pub const FIELD_VALUE: usize = 1024;
pub const FOOTER_TEXT: usize = 2048;
pub const AUTHOR_NAME: usize = 256;
/// All embeds of one message together: titles, descriptions, field names and values, footer
/// texts and author names.
pub const EMBEDS_TOTAL: usize = 6000;
pub const ACTION_ROWS: usize = 5;
pub const BUTTONS_PER_ROW: usize = 5;
pub const BUTTON_LABEL: usize = 80;
pub const CUSTOM_ID: usize = 100;
pub const SELECT_OPTIONS: usize = 25;
pub const OPTION_TEXT: usize = 100;
pub const PLACEHOLDER: usize = 150;
pub const CHOICES: usize = 25;
pub const CHOICE_TEXT: usize = 100;
pub const FILES: usize = 10;
pub const COMMAND_NAME: usize = 32;
pub const COMMAND_DESCRIPTION: usize = 100;
pub const COMMAND_OPTIONS: usize = 25;

/// How Discord refuses a request.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// 400, code 50035, with the errors per field.
    InvalidForm(Value),
    /// 413, code 40005: a file over the upload limit.
    TooLarge,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::InvalidForm(_) => 400,
            Refusal::TooLarge => 413,
        }
    }

    pub fn body(&self) -> Value {
        match self {
            Refusal::InvalidForm(errors) => {
                json!({"code": 50035, "message": "Invalid Form Body", "errors": errors})
            }
            Refusal::TooLarge => json!({"code": 40005, "message": "Request entity too large"}),
        }
    }
}

/// Checks one request. `files` are the multipart uploads (name, size); `upload_limit` is the
/// interaction's `attachment_size_limit` for interaction routes, else [`UPLOAD_LIMIT`].
pub fn check(
    method: &str,
    parts: &[&str],
    body: &Value,
    files: &[(String, u64)],
    upload_limit: u64,
) -> Option<Refusal> {
    if files.iter().any(|(_, size)| *size > upload_limit) {
        return Some(Refusal::TooLarge);
    }
    let mut e = Errors::default();
    match (method, parts) {
        ("PUT", ["applications", _, "commands"])
        | ("PUT", ["applications", _, "guilds", _, "commands"]) => commands(&mut e, body),
        ("POST", ["interactions", _, _, "callback"]) => callback(&mut e, body),
        ("POST", ["channels", _, "messages"])
        | ("PATCH", ["channels", _, "messages", _])
        | ("POST", ["webhooks", _, _])
        | ("PATCH", ["webhooks", _, _, "messages", _]) => message(&mut e, &[], body),
        ("POST", ["channels", _, "threads"]) => thread(&mut e, body),
        _ => {}
    }
    if files.len() > FILES {
        e.max_len(&["files"], FILES);
    }
    e.into_refusal()
}

/// `POST /channels/{id}/threads` without a message: a name of 1–100 characters, a thread type
/// (10, 11, 12), an archive duration Discord offers.
fn thread(e: &mut Errors, body: &Value) {
    let name = body.get("name").and_then(Value::as_str).unwrap_or("");
    let n = name.chars().count();
    if !(1..=100).contains(&n) {
        e.add(
            &["name"],
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between 1 and 100 in length. ({n})"),
        );
    }
    if let Some(t) = body.get("type").and_then(Value::as_u64)
        && !matches!(t, 10..=12)
    {
        e.add(
            &["type"],
            "BASE_TYPE_CHOICES",
            format!("Value must be one of (10, 11, 12). ({t})"),
        );
    }
    if let Some(d) = body.get("auto_archive_duration").and_then(Value::as_u64)
        && !matches!(d, 60 | 1440 | 4320 | 10080)
    {
        e.add(
            &["auto_archive_duration"],
            "BASE_TYPE_CHOICES",
            format!("Value must be one of (60, 1440, 4320, 10080). ({d})"),
        );
    }
}

/// The errors object, nested by field path as Discord writes it (`{"embeds": {"0": {"title":
/// {"_errors": [...]}}}}`).
#[derive(Default)]
struct Errors(Map<String, Value>);

impl Errors {
    fn add(&mut self, path: &[&str], code: &str, message: String) {
        let mut node = &mut self.0;
        for key in path {
            node = node
                .entry(key.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("error nodes are objects");
        }
        node.entry("_errors")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("_errors is an array")
            .push(json!({"code": code, "message": message}));
    }

    fn max_len(&mut self, path: &[&str], max: usize) {
        self.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {max} or fewer in length."),
        );
    }

    /// A string field: at most `max` code points; `required` ones also not empty (or absent).
    fn text(&mut self, path: &[&str], v: Option<&Value>, max: usize, required: bool) {
        match v.and_then(Value::as_str) {
            Some(s) if chars(s) > max => self.max_len(path, max),
            Some("") | None if required => self.add(
                path,
                "BASE_TYPE_REQUIRED",
                "This field is required".to_string(),
            ),
            _ => {}
        }
    }

    fn into_refusal(self) -> Option<Refusal> {
        (!self.0.is_empty()).then_some(Refusal::InvalidForm(Value::Object(self.0)))
    }
}

pub fn chars(s: &str) -> usize {
    s.chars().count()
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn join<'a>(prefix: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    prefix.iter().chain(rest).copied().collect()
}

/// An interaction callback: messages (4, 7) and deferrals (5, 6) carry a message in `data`,
/// autocomplete results (8) its choices.
fn callback(e: &mut Errors, body: &Value) {
    let data = body.get("data").unwrap_or(&Value::Null);
    match body.get("type").and_then(Value::as_u64) {
        Some(4..=7) if data.is_object() => message(e, &["data"], data),
        Some(8) => {
            let choices = array(data.get("choices"));
            if choices.len() > CHOICES {
                e.max_len(&["data", "choices"], CHOICES);
            }
            for (i, c) in choices.iter().enumerate() {
                let i = i.to_string();
                e.text(
                    &["data", "choices", &i, "name"],
                    c.get("name"),
                    CHOICE_TEXT,
                    true,
                );
                if c.get("value").is_some_and(Value::is_string) {
                    e.text(
                        &["data", "choices", &i, "value"],
                        c.get("value"),
                        CHOICE_TEXT,
                        true,
                    );
                }
            }
        }
        _ => {}
    }
}

/// A message body (create, edit, webhook execute/edit, or an interaction callback's `data`).
fn message(e: &mut Errors, at: &[&str], m: &Value) {
    if let Some(content) = m.get("content").and_then(Value::as_str)
        && chars(content) > CONTENT
    {
        e.max_len(&join(at, &["content"]), CONTENT);
    }
    let embeds = array(m.get("embeds"));
    if embeds.len() > EMBEDS {
        e.max_len(&join(at, &["embeds"]), EMBEDS);
    }
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let i = i.to_string();
        let p = |rest: &[&'static str]| -> Vec<String> {
            at.iter()
                .map(|s| s.to_string())
                .chain(["embeds".to_string(), i.clone()])
                .chain(rest.iter().map(|s| s.to_string()))
                .collect()
        };
        let mut text = |e: &mut Errors, path: Vec<String>, v: Option<&Value>, max, req| {
            total += v.and_then(Value::as_str).map_or(0, chars);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            e.text(&path, v, max, req);
        };
        text(e, p(&["title"]), embed.get("title"), EMBED_TITLE, false);
        text(
            e,
            p(&["description"]),
            embed.get("description"),
            EMBED_DESCRIPTION,
            false,
        );
        text(
            e,
            p(&["footer", "text"]),
            embed.pointer("/footer/text"),
            FOOTER_TEXT,
            embed.get("footer").is_some_and(Value::is_object),
        );
        text(
            e,
            p(&["author", "name"]),
            embed.pointer("/author/name"),
            AUTHOR_NAME,
            embed.get("author").is_some_and(Value::is_object),
        );
        let fields = array(embed.get("fields"));
        if fields.len() > EMBED_FIELDS {
            let path = p(&["fields"]);
            e.max_len(
                &path.iter().map(String::as_str).collect::<Vec<_>>(),
                EMBED_FIELDS,
            );
        }
        for (j, f) in fields.iter().enumerate() {
            let j = j.to_string();
            let mut path = p(&["fields"]);
            path.push(j);
            let mut name = path.clone();
            name.push("name".into());
            let mut value = path;
            value.push("value".into());
            text(e, name, f.get("name"), FIELD_NAME, true);
            text(e, value, f.get("value"), FIELD_VALUE, true);
        }
    }
    if total > EMBEDS_TOTAL {
        e.add(
            &join(at, &["embeds"]),
            "MAX_EMBED_SIZE_EXCEEDED",
            format!("Embed size exceeds maximum size of {EMBEDS_TOTAL}"),
        );
    }
    components(e, at, array(m.get("components")));
    if array(m.get("attachments")).len() > FILES {
        e.max_len(&join(at, &["attachments"]), FILES);
    }
}

/// Action rows of buttons and selects.
fn components(e: &mut Errors, at: &[&str], rows: &[Value]) {
    if rows.len() > ACTION_ROWS {
        e.max_len(&join(at, &["components"]), ACTION_ROWS);
    }
    let mut ids = HashSet::new();
    for (r, row) in rows.iter().enumerate() {
        let r = r.to_string();
        let row_path = join(at, &["components", &r]);
        if row.get("type").and_then(Value::as_u64) != Some(1) {
            e.add(
                &row_path,
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).".into(),
            );
            continue;
        }
        let children = array(row.get("components"));
        let selects = children
            .iter()
            .filter(|c| matches!(c.get("type").and_then(Value::as_u64), Some(3 | 5..=8)))
            .count();
        let width_exceeded = if selects > 0 {
            children.len() > 1
        } else {
            children.len() > BUTTONS_PER_ROW
        };
        if width_exceeded {
            e.add(
                &join(&row_path, &["components"]),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width".into(),
            );
        }
        if children.is_empty() {
            e.add(
                &join(&row_path, &["components"]),
                "BASE_TYPE_MIN_LENGTH",
                "Must be 1 or more in length.".into(),
            );
        }
        for (c, comp) in children.iter().enumerate() {
            let c = c.to_string();
            let p = join(&row_path, &["components", &c]);
            let style = comp.get("style").and_then(Value::as_u64);
            // Link (5) and premium (6) buttons carry a url or a sku_id, not a custom id.
            let is_link = matches!(style, Some(5 | 6));
            if style == Some(6)
                && (comp.get("sku_id").and_then(Value::as_str).is_none()
                    || comp.get("label").is_some_and(|l| !l.is_null())
                    || comp.get("url").is_some_and(|u| !u.is_null()))
            {
                e.add(
                    &join(&p, &["sku_id"]),
                    "BUTTON_COMPONENT_INVALID_PREMIUM",
                    "A premium button needs a sku_id and no label or url".into(),
                );
            }
            if let Some(id) = comp.get("custom_id").and_then(Value::as_str) {
                e.text(
                    &join(&p, &["custom_id"]),
                    comp.get("custom_id"),
                    CUSTOM_ID,
                    true,
                );
                if !ids.insert(id.to_string()) {
                    e.add(
                        &join(&p, &["custom_id"]),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated".into(),
                    );
                }
            } else if !is_link {
                e.text(&join(&p, &["custom_id"]), None, CUSTOM_ID, true);
            }
            match comp.get("type").and_then(Value::as_u64) {
                Some(2) => e.text(
                    &join(&p, &["label"]),
                    comp.get("label"),
                    BUTTON_LABEL,
                    false,
                ),
                Some(3) => select(e, &p, comp),
                Some(5..=8) => e.text(
                    &join(&p, &["placeholder"]),
                    comp.get("placeholder"),
                    PLACEHOLDER,
                    false,
                ),
                _ => {}
            }
        }
    }
}

/// A string select: 1 to 25 options with distinct values.
fn select(e: &mut Errors, p: &[&str], comp: &Value) {
    e.text(
        &join(p, &["placeholder"]),
        comp.get("placeholder"),
        PLACEHOLDER,
        false,
    );
    let options = array(comp.get("options"));
    if options.len() > SELECT_OPTIONS {
        e.max_len(&join(p, &["options"]), SELECT_OPTIONS);
    }
    if options.is_empty() {
        e.add(
            &join(p, &["options"]),
            "BASE_TYPE_MIN_LENGTH",
            "Must be 1 or more in length.".into(),
        );
    }
    let mut values = HashSet::new();
    for (o, opt) in options.iter().enumerate() {
        let o = o.to_string();
        let op = join(p, &["options", &o]);
        e.text(&join(&op, &["label"]), opt.get("label"), OPTION_TEXT, true);
        e.text(&join(&op, &["value"]), opt.get("value"), OPTION_TEXT, true);
        e.text(
            &join(&op, &["description"]),
            opt.get("description"),
            OPTION_TEXT,
            false,
        );
        if let Some(v) = opt.get("value").and_then(Value::as_str)
            && !values.insert(v.to_string())
        {
            e.add(
                &join(&op, &["value"]),
                "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                "Select component option value cannot be duplicated".into(),
            );
        }
    }
}

/// Bulk command registration: a list of commands, each with options (nested for subcommands).
fn commands(e: &mut Errors, body: &Value) {
    for (i, c) in array(Some(body)).iter().enumerate() {
        command_like(e, &[&i.to_string()], c);
    }
}

fn command_like(e: &mut Errors, p: &[&str], c: &Value) {
    match c.get("name").and_then(Value::as_str) {
        Some(n)
            if (1..=COMMAND_NAME).contains(&chars(n))
                && n.chars().all(|ch| {
                    ch == '-' || ch == '_' || (ch.is_alphanumeric() && !ch.is_uppercase())
                }) => {}
        _ => e.add(
            &join(p, &["name"]),
            "APPLICATION_COMMAND_INVALID_NAME",
            format!(
                "Command name is invalid (1 to {COMMAND_NAME} lowercase letters, digits, - or _)"
            ),
        ),
    }
    // Context-menu commands (types 2 and 3) have an empty description.
    let chat_input = c.get("type").and_then(Value::as_u64).is_none_or(|t| t == 1);
    if chat_input {
        e.text(
            &join(p, &["description"]),
            c.get("description"),
            COMMAND_DESCRIPTION,
            true,
        );
    }
    let options = array(c.get("options"));
    if options.len() > COMMAND_OPTIONS {
        e.max_len(&join(p, &["options"]), COMMAND_OPTIONS);
    }
    let mut seen_optional = false;
    for (o, opt) in options.iter().enumerate() {
        let o = o.to_string();
        let op = join(p, &["options", &o]);
        command_like(e, &op, opt);
        let sub = opt
            .get("type")
            .and_then(Value::as_u64)
            .is_some_and(|t| t <= 2);
        let required = opt.get("required").and_then(Value::as_bool) == Some(true);
        if !sub && required && seen_optional {
            e.add(
                &join(&op, &["required"]),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options".into(),
            );
        }
        seen_optional |= !sub && !required;
        let choices = array(opt.get("choices"));
        if choices.len() > CHOICES {
            e.max_len(&join(&op, &["choices"]), CHOICES);
        }
        for (k, ch) in choices.iter().enumerate() {
            let k = k.to_string();
            let cp = join(&op, &["choices", &k]);
            e.text(&join(&cp, &["name"]), ch.get("name"), CHOICE_TEXT, true);
            if ch.get("value").is_some_and(Value::is_string) {
                e.text(&join(&cp, &["value"]), ch.get("value"), CHOICE_TEXT, true);
            }
        }
    }
}
