//! Reads `src/` as text: comments and string literals blanked, test-only
//! items dropped, then every path the code names (`use` trees expanded,
//! fully-qualified paths in expressions), made absolute where it points
//! into this crate.

use std::collections::BTreeMap;
use std::path::Path;

/// One source file of `src/`, relative path with `/` separators.
pub(super) struct SourceFile {
    pub(super) path: String,
    /// Module path inside its crate (`["simulator", "handlers"]`).
    pub(super) module: Vec<String>,
    /// Part of the binary crate (`main.rs` and the modules it declares).
    pub(super) binary: bool,
    pub(super) paths: Vec<NamedPath>,
}

/// A path as the code names it, made absolute (`crate::…`, `std::…`).
pub(super) struct NamedPath {
    pub(super) line: usize,
    pub(super) segments: Vec<String>,
}

impl NamedPath {
    pub(super) fn text(&self) -> String {
        self.segments.join("::")
    }
}

/// Every non-test `.rs` file under `src/`, scanned.
pub(super) fn scan_sources(src: &Path) -> Vec<SourceFile> {
    let mut texts = BTreeMap::new();
    collect(src, src, &mut texts);
    let binary_modules = declared_modules(&code_of(&texts["main.rs"]));
    texts
        .iter()
        .filter(|(path, _)| !is_test_file(path))
        .map(|(path, text)| {
            let module = module_of(path);
            let binary =
                path == "main.rs" || (module.len() == 1 && binary_modules.contains(&module[0]));
            let paths = paths_in(text, &module);
            SourceFile {
                path: path.clone(),
                module,
                binary,
                paths,
            }
        })
        .collect()
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under src");
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            out.insert(key, text);
        }
    }
}

/// Test files may use temp files, clocks and anything else.
fn is_test_file(path: &str) -> bool {
    path.split('/')
        .any(|part| part.contains("tests") || part.starts_with("testutil"))
}

pub(super) fn module_of(path: &str) -> Vec<String> {
    let stem = path.trim_end_matches(".rs");
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The paths a file's text names outside comments, literals and tests.
pub(super) fn paths_in(text: &str, module: &[String]) -> Vec<NamedPath> {
    named_paths(&code_of(text), module)
}

/// The code of a file: comments and literals blanked, `#[cfg(test)]` items
/// removed; line breaks kept so line numbers stay right.
fn code_of(text: &str) -> String {
    drop_test_items(&blank_comments_and_literals(text))
}

fn blank_comments_and_literals(text: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    let mut i = 0;
    while i < out.len() {
        match literal_at(text, i) {
            Some(span) => {
                for b in &mut out[span.from..span.to.min(text.len())] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = span.next;
            }
            None => i += 1,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What to blank (`from..to`) of a comment or literal starting at a byte,
/// and where scanning goes on (`next`).
struct Span {
    from: usize,
    to: usize,
    next: usize,
}

fn literal_at(text: &str, i: usize) -> Option<Span> {
    let bytes = text.as_bytes();
    let rest = &bytes[i..];
    if rest.starts_with(b"//") {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| i + p);
        Some(Span {
            from: i,
            to: end,
            next: end,
        })
    } else if rest.starts_with(b"/*") {
        let end = block_comment_end(bytes, i);
        Some(Span {
            from: i,
            to: end,
            next: end,
        })
    } else if let Some(hashes) = raw_string_start(bytes, i) {
        Some(raw_string(bytes, i, hashes))
    } else if bytes[i] == b'"' {
        let mut j = i + 1;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(bytes.len());
        Some(Span {
            from: i + 1,
            to: end,
            next: end + 1,
        })
    } else if bytes[i] == b'\'' {
        char_literal(text, i)
    } else {
        None
    }
}

/// Past the `*/` that closes the (nested) block comment opened at `i`.
fn block_comment_end(bytes: &[u8], i: usize) -> usize {
    let (mut depth, mut j) = (0usize, i);
    while j < bytes.len() {
        if bytes[j..].starts_with(b"/*") {
            depth += 1;
            j += 2;
        } else if bytes[j..].starts_with(b"*/") {
            depth -= 1;
            j += 2;
            if depth == 0 {
                break;
            }
        } else {
            j += 1;
        }
    }
    j
}

fn raw_string(bytes: &[u8], i: usize, hashes: usize) -> Span {
    let open = bytes[i..]
        .iter()
        .position(|&b| b == b'"')
        .map_or(0, |p| i + p);
    let close: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let end = bytes[open + 1..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map_or(bytes.len(), |p| open + 1 + p);
    Span {
        from: open + 1,
        to: end,
        next: end + close.len(),
    }
}

/// A char or byte literal at `i` (`'x'`, `b'"'`, `'\n'`, `'\u{..}'`);
/// `None` for a lifetime (`'a`) or a quote inside an identifier.
fn char_literal(text: &str, i: usize) -> Option<Span> {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let starts =
        i == 0 || !ident(bytes[i - 1]) || (bytes[i - 1] == b'b' && (i < 2 || !ident(bytes[i - 2])));
    if !starts {
        return None;
    }
    let rest = &bytes[i..];
    let len = if rest.get(1) == Some(&b'\\') {
        rest.iter().skip(3).position(|&b| b == b'\'').map(|p| p + 4)
    } else {
        text[i + 1..]
            .chars()
            .next()
            .map(char::len_utf8)
            .filter(|&n| rest.get(1 + n) == Some(&b'\''))
            .map(|n| n + 2)
    }?;
    Some(Span {
        from: i + 1,
        to: i + len - 1,
        next: i + len,
    })
}

/// `r"`, `r#"`, `br"`… at `i` (not inside an identifier): the hash count.
fn raw_string_start(bytes: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if bytes.get(j) == Some(&b'b') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = bytes[j..].iter().take_while(|&&b| b == b'#').count();
    (bytes.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

/// Blanks every item under `#[cfg(test)]` (a `mod tests { … }`, a helper
/// `fn`, a `use`): up to its `;` or its matching `}`.
fn drop_test_items(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    let marker = "#[cfg(test)]";
    let mut from = 0;
    while let Some(p) = code[from..].find(marker) {
        let start = from + p;
        let mut j = start + marker.len();
        let mut depth = 0usize;
        while j < out.len() {
            match out[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    j += 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        for b in &mut out[start..j.min(code.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        from = j.min(code.len());
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Names of `mod x;` and `mod x {` declared in a file's code.
pub(super) fn declared_modules(code: &str) -> Vec<String> {
    let tokens = tokens(code);
    tokens
        .windows(2)
        .filter(|w| w[0].text == "mod" && is_ident(&w[1].text))
        .map(|w| w[1].text.clone())
        .collect()
}

#[derive(Clone)]
struct Token {
    text: String,
    line: usize,
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut line = 1;
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Token {
                text: text.trim_start_matches("r#").to_owned(),
                line,
            });
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// Every path the code names, absolute: `use` trees expanded, each
/// `a::b::c` run of tokens outside `use`, and each method call as
/// `.name`.
fn named_paths(code: &str, module: &[String]) -> Vec<NamedPath> {
    let tokens = tokens(code);
    let children = declared_modules(code);
    let mut raw: Vec<(usize, Vec<String>)> = Vec::new();
    let mut methods: Vec<NamedPath> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.text == "use" && tokens.get(i.wrapping_sub(1)).is_none_or(|p| p.text != "::") {
            let end = tokens[i..]
                .iter()
                .position(|t| t.text == ";")
                .map_or(tokens.len(), |p| i + p);
            expand_use(&tokens[i + 1..end], Vec::new(), &mut raw);
            i = end + 1;
            continue;
        }
        // A method call, `.exists()`: named `.exists` (file system probes
        // on `Path` are methods, which no import shows).
        if t.text == "."
            && tokens.get(i + 1).is_some_and(|n| is_ident(&n.text))
            && tokens.get(i + 2).is_some_and(|n| n.text == "(")
        {
            methods.push(NamedPath {
                line: t.line,
                segments: vec![format!(".{}", tokens[i + 1].text)],
            });
            i += 2;
            continue;
        }
        let starts_path = is_ident(&t.text) && tokens.get(i + 1).is_some_and(|n| n.text == "::");
        let continues = i > 1
            && tokens[i - 1].text == "::"
            && (is_ident(&tokens[i - 2].text) || tokens[i - 2].text == ">");
        if starts_path && !continues {
            let mut segments = vec![t.text.clone()];
            let mut j = i + 1;
            while j + 1 < tokens.len() && tokens[j].text == "::" && is_ident(&tokens[j + 1].text) {
                segments.push(tokens[j + 1].text.clone());
                j += 2;
            }
            raw.push((t.line, segments));
            i = j;
            continue;
        }
        i += 1;
    }
    raw.into_iter()
        .map(|(line, segments)| NamedPath {
            line,
            segments: absolute(segments, module, &children),
        })
        .chain(methods)
        .collect()
}

/// Expands one `use` tree (`a::{b, c::{d, e as f}, self}`) into paths.
fn expand_use(tokens: &[Token], prefix: Vec<String>, out: &mut Vec<(usize, Vec<String>)>) {
    let mut path = prefix;
    let mut i = 0;
    let line = tokens.first().map_or(0, |t| t.line);
    while i < tokens.len() {
        let t = &tokens[i].text;
        if t == "{" {
            let mut depth = 0;
            let mut item_start = i + 1;
            for j in i..tokens.len() {
                match tokens[j].text.as_str() {
                    "{" => depth += 1,
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            expand_use(&tokens[item_start..j], path.clone(), out);
                            return;
                        }
                    }
                    "," if depth == 1 => {
                        expand_use(&tokens[item_start..j], path.clone(), out);
                        item_start = j + 1;
                    }
                    _ => {}
                }
            }
            return;
        } else if t == "as" {
            break;
        } else if t == "self" && !path.is_empty() {
            // `use a::{self}` names `a` itself.
        } else if is_ident(t) || t == "*" {
            path.push(t.clone());
        }
        i += 1;
    }
    if !path.is_empty() {
        out.push((line, path));
    }
}

/// `super::`, `self::`, a child module's name → `crate::…`; other paths
/// (`std::fs`, `tokio::…`, a local `Type::method`) stay as written.
fn absolute(segments: Vec<String>, module: &[String], children: &[String]) -> Vec<String> {
    let first = segments[0].as_str();
    let mut base: Vec<String> = match first {
        "super" | "self" => module.to_vec(),
        _ if children.iter().any(|c| c == first) => module.to_vec(),
        _ => return segments,
    };
    let mut rest = segments.into_iter().peekable();
    while let Some(s) = rest.next_if(|s| s == "super" || s == "self") {
        if s == "super" {
            base.pop();
        }
    }
    let mut out = vec!["crate".to_owned()];
    out.extend(base);
    out.extend(rest);
    out
}
