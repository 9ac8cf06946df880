//! Spin's `{{ name }}` templates, as `crates/expressions/src/template.rs` parses them: literal
//! text and expressions in double braces; an expression runs to the next `}}` and is trimmed; an
//! unmatched `{{` is an error; a lone `}}` is literal text. Expressions name application
//! variables (`[variables]`) and nothing else.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Lit(String),
    Expr(String),
}

/// Splits a template into parts, or says why it cannot be parsed.
pub(crate) fn parse(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(expr_rest) = rest.strip_prefix("{{") {
            let Some((expr, after)) = expr_rest.split_once("}}") else {
                return Err("unmatched '{{' in template".into());
            };
            parts.push(Part::Expr(expr.trim().to_owned()));
            rest = after;
        } else if let Some(i) = rest.find("{{") {
            parts.push(Part::Lit(rest[..i].to_owned()));
            rest = &rest[i..];
        } else {
            parts.push(Part::Lit(rest.to_owned()));
            rest = "";
        }
    }
    Ok(parts)
}

/// The variable names a template refers to, in order.
pub(crate) fn names(parts: &[Part]) -> impl Iterator<Item = &str> {
    parts.iter().filter_map(|p| match p {
        Part::Expr(e) => Some(e.as_str()),
        Part::Lit(_) => None,
    })
}

/// Fills a template in; `None` if a name has no value.
pub(crate) fn render<'v>(parts: &[Part], value: impl Fn(&str) -> Option<&'v str>) -> Option<String> {
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Lit(l) => out.push_str(l),
            Part::Expr(e) => out.push_str(value(e)?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_as_spin() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("a").unwrap(), vec![Part::Lit("a".into())]);
        assert_eq!(parse("a-{{ expr }}-b").unwrap(), vec![Part::Lit("a-".into()), Part::Expr("expr".into()), Part::Lit("-b".into())]);
        assert_eq!(parse("{{ e1 }}{{e2}}").unwrap(), vec![Part::Expr("e1".into()), Part::Expr("e2".into())]);
        assert_eq!(parse("a }} b").unwrap(), vec![Part::Lit("a }} b".into())]);
        assert!(parse("{{ matched }} {{ unmatched").is_err());
    }

    #[test]
    fn renders_with_values() {
        let parts = parse("http://{{ host }}:{{port}}").unwrap();
        let v = |k: &str| match k {
            "host" => Some("127.0.0.1"),
            "port" => Some("5000"),
            _ => None,
        };
        assert_eq!(render(&parts, v).as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(render(&parse("{{ nope }}").unwrap(), v), None);
    }
}
