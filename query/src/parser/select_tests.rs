//! Parser tests for `SELECT` and `SHOW SERIES` / `SHOW TAG ...`.

use crate::ast::{BinaryOp, Dimension, Expr, Fill, RefKind, Select, Source, Statement, TagKeySelector};
use crate::parse_query;

fn select(q: &str) -> Select {
    match parse_query(q).map(|mut p| p.statements.remove(0)) {
        Ok(Statement::Select(s)) => *s,
        other => panic!("{q}: {other:?}"),
    }
}

fn err(q: &str) -> String {
    match parse_query(q) {
        Ok(parsed) => panic!("{q} parsed: {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

fn var(name: &str) -> Expr {
    Expr::VarRef { name: name.into(), kind: None }
}

#[test]
fn fields_sources_and_aliases() {
    let s = select("SELECT usage, \"usage\"::field, host::tag, *, 1.5, 'x', mean(v) AS m FROM cpu");
    assert_eq!(s.fields.len(), 7);
    assert_eq!(s.fields[1].expr, Expr::VarRef { name: "usage".into(), kind: Some(RefKind::Field) });
    assert_eq!(s.fields[2].expr, Expr::VarRef { name: "host".into(), kind: Some(RefKind::Tag) });
    assert_eq!(s.fields[3].expr, Expr::Wildcard(None));
    assert_eq!(s.fields[6].alias.as_deref(), Some("m"));
    assert_eq!(s.fields[6].column_name(), "m");
    let s = select("SELECT v FROM \"my m\", db.rp.m, db..m, rp.m, /^c.*/, db.rp./x\\/y/");
    assert_eq!(s.sources.len(), 6);
    let Source::Measurement(m) = &s.sources[2] else { panic!() };
    assert_eq!((m.database.as_deref(), m.retention_policy.as_deref(), m.name.as_str()), (Some("db"), None, "m"));
    assert_eq!(s.sources[4], Source::Regex { database: None, retention_policy: None, pattern: "^c.*".into() });
    assert_eq!(
        s.sources[5],
        Source::Regex { database: Some("db".into()), retention_policy: Some("rp".into()), pattern: "x/y".into() }
    );
}

#[test]
fn arithmetic_precedence_and_names() {
    let s = select("SELECT a + b * 2, (a + b) * 2, -a, MEAN(x) / 2, a - -1 FROM m");
    assert_eq!(
        s.fields[0].expr,
        Expr::binary(BinaryOp::Add, var("a"), Expr::binary(BinaryOp::Mul, var("b"), Expr::Integer(2)))
    );
    assert_eq!(s.fields[0].column_name(), "a_b");
    assert_eq!(s.fields[1].to_owned().expr.to_string(), "(a + b) * 2");
    assert_eq!(s.fields[3].column_name(), "mean");
    assert_eq!(s.fields[4].expr, Expr::binary(BinaryOp::Sub, var("a"), Expr::Integer(-1)));
}

#[test]
fn calls_with_named_arguments() {
    let s = select("SELECT forecast(mean(v), 30m, model => 'ets', level => 95), percentile(v, 90), top(v, 3) FROM m");
    let Expr::Call { name, args, named } = &s.fields[0].expr else { panic!() };
    assert_eq!(name, "forecast");
    assert_eq!(args.len(), 2);
    assert_eq!(args[1], Expr::Duration(30 * 60_000_000_000));
    assert_eq!(
        named,
        &vec![("model".to_string(), Expr::String("ets".into())), ("level".to_string(), Expr::Integer(95))]
    );
    assert_eq!(s.fields[0].expr.to_string(), "forecast(mean(v), 30m, model => 'ets', level => 95)");
    assert_eq!(err("SELECT f(a => 1, 2) FROM m"), "positional argument after named argument at line 1, char 18");
}

#[test]
fn where_clause() {
    let s = select(
        "SELECT v FROM cpu WHERE host = 'a' AND (region =~ /us-.*/ OR region !~ /eu/) AND time > now() - 1h \
         AND time <= '2024-01-01T00:00:00Z' AND v <> 3 AND w >= 1.5",
    );
    let cond = s.condition.expect("where").to_string();
    assert_eq!(
        cond,
        "host = 'a' AND (region =~ /us-.*/ OR region !~ /eu/) AND time > now() - 1h \
         AND time <= '2024-01-01T00:00:00Z' AND v != 3 AND w >= 1.5"
    );
    // `a OR b AND c` is `a OR (b AND c)`.
    let s = select("SELECT v FROM m WHERE a = 1 OR b = 2 AND c = 3");
    let Some(Expr::Binary { op: BinaryOp::Or, .. }) = s.condition else { panic!("{:?}", s.condition) };
    // A regex holding quotes and slashes does not confuse the tokens after it.
    let s = select("SELECT v FROM m WHERE host =~ /it's\\/x/ AND time > 10s LIMIT 1");
    assert_eq!(s.limit, 1);
    assert_eq!(err("SELECT v FROM m WHERE host =~ /abc"), "unterminated regex at line 1, char 31");
    assert_eq!(err("SELECT v FROM m WHERE host =~ 'a'"), "found a, expected regex at line 1, char 30");
}

#[test]
fn group_by_fill_order_limits_tz() {
    let s = select(
        "SELECT mean(v) FROM cpu WHERE time > now() - 1d GROUP BY time(5m, 1m), host, /^r/ fill(previous) \
         ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 1 tz('UTC')",
    );
    assert_eq!(
        s.dimensions,
        vec![
            Dimension::Time { interval: 300_000_000_000, offset: 60_000_000_000 },
            Dimension::Tag("host".into()),
            Dimension::Regex("^r".into())
        ]
    );
    assert_eq!(s.fill, Fill::Previous);
    assert!(s.descending);
    assert_eq!((s.limit, s.offset, s.slimit, s.soffset), (10, 2, 3, 1));
    assert_eq!(s.timezone.as_deref(), Some("UTC"));
    assert_eq!(select("SELECT mean(v) FROM m GROUP BY * fill(-1.5)").fill, Fill::Number(-1.5));
    assert_eq!(select("SELECT mean(v) FROM m GROUP BY time(1m) fill(0)").fill, Fill::Integer(0));
    assert_eq!(select("SELECT mean(v) FROM m GROUP BY time(1m) FILL(none)").fill, Fill::None);
    assert!(!select("SELECT v FROM m ORDER BY time ASC").descending);
    let printed = select("SELECT mean(v) FROM cpu GROUP BY time(5m), host fill(linear) ORDER BY time DESC LIMIT 1");
    assert_eq!(
        printed.to_string(),
        "SELECT mean(v) FROM cpu GROUP BY time(5m), host fill(linear) ORDER BY time DESC LIMIT 1"
    );
}

#[test]
fn select_errors() {
    assert_eq!(err("SELECT"), "found EOF, expected identifier, string, number, bool at line 1, char 8");
    assert_eq!(err("SELECT v"), "found EOF, expected FROM at line 1, char 10");
    assert_eq!(err("SELECT v FROM"), "found EOF, expected identifier at line 1, char 15");
    assert_eq!(err("SELECT v FROM m LIMIT x"), "found x, expected integer at line 1, char 23");
    assert_eq!(err("SELECT v FROM m ORDER BY v"), "only ORDER BY time supported at this time");
    // influxd (the fill() and ORDER BY errors have no position there either).
    assert_eq!(err("SELECT mean(v) FROM m GROUP BY time(1m) fill(foo)"), "expected number argument in fill()");
    assert_eq!(
        err("SELECT v FROM m GROUP BY time(x)"),
        "time dimension must have duration argument at line 1, char 31"
    );
    assert_eq!(err("SELECT v FROM m LIMIT 1 GROUP BY host"), "found GROUP, expected ; at line 1, char 25");
    // influxd
    assert_eq!(err("SELECT v FROM m ORDER BY time DESC, host"), "only ORDER BY time supported at this time");
    assert_eq!(err("SELECT v FROM m ORDER BY 1"), "found 1, expected identifier, ASC, DESC at line 1, char 26");
    assert_eq!(
        err("SELECT v FROM m GROUP BY"),
        "found EOF, expected identifier, string, number, bool at line 1, char 26"
    );
    assert_eq!(err("SELECT v FROM m WHERE time > 5x"), "invalid duration");
    assert_eq!(err("SELECT *"), "found EOF, expected FROM at line 1, char 9");
    // influxd: where a regex may follow, EOF is one character further.
    assert_eq!(err("SELECT bad("), "found EOF, expected identifier, string, number, bool at line 1, char 13");
    assert_eq!(err("SELECT a,"), "found EOF, expected identifier, string, number, bool at line 1, char 11");
    assert_eq!(err("SELECT f(a,"), "found EOF, expected identifier, string, number, bool at line 1, char 13");
    assert_eq!(
        err("SELECT v FROM m GROUP BY time("),
        "found EOF, expected identifier, string, number, bool at line 1, char 32"
    );
    assert_eq!(err("SELECT v FROM db."), "found EOF, expected identifier at line 1, char 19");
    assert_eq!(err("SELECT v FROM m WHERE a =~"), "found EOF, expected regex at line 1, char 28");
    assert_eq!(err("SELECT v FROM m fill("), "found EOF, expected identifier, string, number, bool at line 1, char 23");
    assert_eq!(err("SELECT v FROM m tz("), "found EOF, expected identifier, string, number, bool at line 1, char 21");
    assert_eq!(err("SELECT v FROM m tz(1)"), "expected string argument in tz()");
    assert_eq!(err("SELECT v FROM m tz('x'"), "found EOF, expected ) at line 1, char 23");
    assert_eq!(
        err("SELECT v FROM m WHERE v > -'a'"),
        "found a, expected identifier, number, duration, ( at line 1, char 27"
    );
    assert_eq!(err("SELECT v::"), "found EOF, expected float, integer, string, boolean, field, tag at line 1, char 11");
    assert_eq!(err("SHOW MEASUREMENTS WITH MEASUREMENT =~ 'x'"), "found x, expected identifier at line 1, char 38");
    assert_eq!(err("SHOW MEASUREMENTS WITH MEASUREMENT ="), "found EOF, expected identifier at line 1, char 38");
    assert_eq!(
        err("SELECT mean(v) FROM m GROUP BY time(1m),"),
        "found EOF, expected identifier, string, number, bool at line 1, char 42"
    );
    assert_eq!(err("SHOW TAG VALUES WITH KEY"), "found EOF, expected IN, =, =~ at line 1, char 26");
    assert_eq!(
        err("SELECT v FROM m WHERE s =~ /[/"),
        "error parsing regexp: missing closing ]: `[` at line 1, char 27"
    );
    assert_eq!(err("SELECT v FROM /[/"), "error parsing regexp: missing closing ]: `[` at line 1, char 14");
    for q in [
        "SELECT (",
        "SELECT v FROM m WHERE",
        "SELECT v FROM m WHERE (a",
        "SELECT f(",
        "SELECT v FROM /",
        "SELECT a::x FROM m",
    ] {
        let _ = err(q);
    }
}

#[test]
fn show_series_and_tags() {
    let q = parse_query(
        "SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 2 OFFSET 1; SHOW TAG KEYS FROM /c/; \
         SHOW TAG VALUES FROM cpu WITH KEY = host; SHOW TAG VALUES WITH KEY IN (host, \"region\"); \
         SHOW TAG VALUES WITH KEY =~ /h.*/ WHERE region = 'us'",
    )
    .expect("parses");
    let Statement::ShowSeries(s) = &q.statements[0] else { panic!() };
    assert_eq!((s.database.as_deref(), s.limit, s.offset), (Some("db"), 2, 1));
    assert_eq!(q.statements[0].to_string(), "SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 2 OFFSET 1");
    let Statement::ShowTagKeys(t) = &q.statements[1] else { panic!() };
    assert_eq!(t.sources.len(), 1);
    let Statement::ShowTagValues(t) = &q.statements[2] else { panic!() };
    assert_eq!(t.key, Some(TagKeySelector::Eq("host".into())));
    let Statement::ShowTagValues(t) = &q.statements[3] else { panic!() };
    assert_eq!(t.key, Some(TagKeySelector::In(vec!["host".into(), "region".into()])));
    assert_eq!(q.statements[4].to_string(), "SHOW TAG VALUES WITH KEY =~ /h.*/ WHERE region = 'us'");
    assert_eq!(err("SHOW TAG VALUES"), "found EOF, expected WITH at line 1, char 17");
    let q = parse_query("SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /c\\/x/ WHERE host = 'a' LIMIT 10 OFFSET 2")
        .expect("parses");
    assert_eq!(
        q.statements[0].to_string(),
        "SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /c\\/x/ WHERE host = 'a' LIMIT 10 OFFSET 2"
    );
    assert_eq!(err("SHOW MEASUREMENTS WITH x"), "found x, expected MEASUREMENT at line 1, char 24");
}

#[test]
fn casts_parse_and_print() {
    let q = parse_query("SELECT f::integer, n::float, u::unsigned, s::string, b::boolean FROM typ").expect("parses");
    assert_eq!(q.statements[0].to_string(), "SELECT f::integer, n::float, u::unsigned, s::string, b::boolean FROM typ");
    // influxd
    assert_eq!(
        err("SELECT f::foo FROM typ"),
        "found foo, expected float, integer, unsigned, string, boolean, field, tag at line 1, char 11"
    );
}

#[test]
fn subqueries_parse_and_print() {
    let q = parse_query(
        "SELECT max(m) FROM (SELECT mean(v) AS m FROM (SELECT v FROM cpu WHERE host = 'a') GROUP BY time(1m), host) GROUP BY time(5m)",
    )
    .expect("parses");
    assert_eq!(
        q.statements[0].to_string(),
        "SELECT max(m) FROM (SELECT mean(v) AS m FROM (SELECT v FROM cpu WHERE host = 'a') GROUP BY time(1m), host) GROUP BY time(5m)"
    );
    // influxd
    assert_eq!(err("SELECT v FROM (SHOW DATABASES)"), "found SHOW, expected SELECT at line 1, char 16");
    assert_eq!(err("SELECT v FROM (SELECT v FROM cpu"), "found EOF, expected ) at line 1, char 34");
}

#[test]
fn subqueries_nest_at_most_sixteen_deep() {
    let nested = |levels: usize| {
        let mut q = "SELECT v FROM cpu".to_string();
        for _ in 0..levels {
            q = format!("SELECT v FROM ({q})");
        }
        q
    };
    let q = parse_query(&nested(super::select::MAX_SUBQUERY_DEPTH)).expect("16 levels parse");
    assert_eq!(q.statements[0].to_string(), nested(16));
    // 1,000 levels overflowed a server thread's stack before the limit.
    for levels in [17, 1_000] {
        let e = err(&nested(levels));
        assert!(e.starts_with("subqueries are nested too deeply (at most 16) at line 1, char 255"), "{e}");
    }
}
