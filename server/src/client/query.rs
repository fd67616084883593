//! `augur query`: run InfluxQL from the command line or an interactive REPL.
//!
//! The REPL (rustyline: line editing, history in `$HOME/.augur_history`)
//! accepts several `;`-separated statements per line, `use <db>` to pick the
//! database like the `influx` CLI, `format table|json|csv`, and `exit`.
//! Each statement is sent on its own so it gets its own timing, and a parse
//! error "at line 1, char N" is shown under the statement with a caret.

use std::time::Instant;

use clap::Args;

use super::http::{Conn, ConnArgs};
use super::table::{render_csv, render_table, OutputFormat};
use super::{ClientError, Result};

/// Flags of `augur query`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  augur query --db mydb                       # interactive; `use otherdb`, `exit`
  augur query --db mydb -e 'SELECT mean(value) FROM cpu GROUP BY time(1h)'
  augur query -e 'SHOW DATABASES' --format csv
  augur query --db mydb -e 'SELECT * FROM cpu LIMIT 3; SELECT count(*) FROM cpu' --format json")]
pub struct QueryArgs {
    /// Database for statements that need one (`use <db>` changes it)
    #[arg(long)]
    pub db: Option<String>,
    /// Run these `;`-separated statements and exit (non-zero on error)
    #[arg(short = 'e', long = "execute", value_name = "STATEMENTS")]
    pub execute: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Timestamps as epoch numbers in this unit (ns, u, ms, s, m, h) instead of RFC 3339
    #[arg(long, value_name = "UNIT", num_args = 0..=1, default_missing_value = "ns")]
    pub epoch: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// The REPL's session state.
struct Session {
    conn: Conn,
    db: Option<String>,
    format: OutputFormat,
    epoch: Option<String>,
    timing: bool,
}

/// Runs `augur query`.
pub fn run(args: &QueryArgs) -> Result<()> {
    let conn = Conn::new(&args.conn)?;
    let mut session =
        Session { conn, db: args.db.clone(), format: args.format, epoch: args.epoch.clone(), timing: false };
    if let Some(text) = &args.execute {
        let mut failed = false;
        for stmt in split_statements(text) {
            failed |= !session.run_statement(&stmt)?;
        }
        return if failed { Err(ClientError::Input("the query failed".into())) } else { Ok(()) };
    }
    repl(&mut session)
}

fn repl(session: &mut Session) -> Result<()> {
    session.timing = true;
    // Fail early and clearly when the server is not there.
    session.conn.send_ok(session.conn.get("/ping", &[]))?;
    let mut editor = rustyline::DefaultEditor::new()
        .map_err(|e| ClientError::Input(format!("cannot start the line editor: {e}")))?;
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".augur_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Connected to {}. Type `help` for help, `exit` to leave.", session.conn.base());
    loop {
        let prompt = match &session.db {
            Some(db) => format!("{db}> "),
            None => "> ".to_string(),
        };
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(ClientError::Input(format!("cannot read input: {e}"))),
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        for stmt in split_statements(&line) {
            let lower = stmt.to_ascii_lowercase();
            let mut words = stmt.split_whitespace();
            match lower.split_whitespace().next() {
                Some("exit" | "quit") => return Ok(()),
                Some("help") => println!(
                    "use <db>                 use this database\nformat table|json|csv    output format\nepoch [ns|u|ms|s|off]    timestamp format\nexit                     leave\nanything else runs as InfluxQL; separate statements with ;"
                ),
                Some("use") => match words.nth(1) {
                    Some(db) => {
                        let db = db.trim_matches('"').to_string();
                        println!("Using database {db}");
                        session.db = Some(db);
                    }
                    None => println!("usage: use <db>"),
                },
                Some("format") => match words.nth(1).map(str::to_ascii_lowercase).as_deref() {
                    Some("table") => session.format = OutputFormat::Table,
                    Some("json") => session.format = OutputFormat::Json,
                    Some("csv") => session.format = OutputFormat::Csv,
                    _ => println!("usage: format table|json|csv"),
                },
                Some("epoch") => match words.nth(1) {
                    Some("off") | None => session.epoch = None,
                    Some(unit) => session.epoch = Some(unit.to_string()),
                },
                _ => {
                    session.run_statement(&stmt)?;
                }
            }
        }
    }
    Ok(())
}

impl Session {
    /// Runs one statement and prints its result; `Ok(false)` when the
    /// server reported an error (printed), `Err` when it could not be asked.
    fn run_statement(&mut self, stmt: &str) -> Result<bool> {
        let mut params: Vec<(&str, &str)> = vec![("q", stmt)];
        if let Some(db) = &self.db {
            params.push(("db", db.as_str()));
        }
        if let Some(epoch) = &self.epoch {
            params.push(("epoch", epoch.as_str()));
        }
        let t0 = Instant::now();
        let body = self.conn.query(&params)?;
        let elapsed = t0.elapsed();
        let error = body["error"].as_str().or_else(|| body["results"][0]["error"].as_str());
        if let Some(err) = error {
            eprintln!("ERR: {err}");
            if let Some(caret) = caret(stmt, err) {
                eprintln!("{caret}");
            }
            return Ok(false);
        }
        let result = &body["results"][0];
        let text = match self.format {
            OutputFormat::Table => render_table(result),
            OutputFormat::Csv => render_csv(result),
            OutputFormat::Json => format!("{}\n", serde_json::to_string(&body).unwrap_or_default()),
        };
        print!("{text}");
        if self.timing {
            let rows: usize = result["series"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s["values"].as_array().map_or(0, Vec::len))
                .sum();
            println!("({rows} rows in {:.1} ms)", elapsed.as_secs_f64() * 1000.0);
        }
        Ok(true)
    }
}

/// The statement with a caret under the position of "at line L, char N".
fn caret(stmt: &str, err: &str) -> Option<String> {
    let at = err.rfind("at line ")?;
    let rest = &err[at + 8..];
    let (line, rest) = rest.split_once(", char ")?;
    let line: usize = line.trim().parse().ok()?;
    let char_no: usize = rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()?;
    let text = stmt.lines().nth(line.checked_sub(1)?)?;
    let col = char_no.saturating_sub(1).min(text.chars().count());
    Some(format!("  {text}\n  {}^", " ".repeat(col)))
}

/// Splits input into statements at `;` outside quotes and regexes.
pub fn split_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                cur.push(c);
            }
            ';' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes() {
        assert_eq!(split_statements("SELECT 1; SELECT 'a;b' ;"), vec!["SELECT 1", "SELECT 'a;b'"]);
    }

    #[test]
    fn caret_points_at_char() {
        let got = caret("SELECT v FROM", "found EOF, expected identifier at line 1, char 14");
        assert_eq!(got.as_deref(), Some("  SELECT v FROM\n               ^"));
    }
}
