//! Renders `/query` results: aligned tables per series (like the `influx`
//! CLI), CSV, or JSON.

use serde_json::Value;

use super::export::csv_cell;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns per series.
    Table,
    /// The server's JSON.
    Json,
    /// CSV with `name,tags` columns first.
    Csv,
}

/// A cell as text: strings bare, null empty, the rest as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `k=v, k=v` of a series' tags, sorted as the server sent them.
fn tags_line(series: &Value) -> String {
    series["tags"]
        .as_object()
        .map(|tags| tags.iter().map(|(k, v)| format!("{k}={}", cell(v))).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// One statement's result (`results[i]`) rendered as aligned tables.
pub fn render_table(result: &Value) -> String {
    let mut out = String::new();
    for (i, series) in result["series"].as_array().into_iter().flatten().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(name) = series["name"].as_str() {
            out.push_str(&format!("name: {name}\n"));
        }
        let tags = tags_line(series);
        if !tags.is_empty() {
            out.push_str(&format!("tags: {tags}\n"));
        }
        let columns: Vec<String> = series["columns"].as_array().into_iter().flatten().map(cell).collect();
        let rows: Vec<Vec<String>> = series["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| row.as_array().into_iter().flatten().map(cell).collect())
            .collect();
        let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> =
                cells.iter().zip(&widths).map(|(c, w)| format!("{c:<width$}", width = *w)).collect();
            padded.join(" ").trim_end().to_string() + "\n"
        };
        out.push_str(&line(&columns));
        out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
        for row in &rows {
            out.push_str(&line(row));
        }
    }
    out
}

/// One statement's result rendered as CSV (`name,tags,<columns>`).
pub fn render_csv(result: &Value) -> String {
    let mut out = String::new();
    let mut last_header = None;
    for series in result["series"].as_array().into_iter().flatten() {
        let columns: Vec<String> = series["columns"].as_array().into_iter().flatten().map(cell).collect();
        let header = format!("name,tags,{}", columns.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        if last_header.as_ref() != Some(&header) {
            out.push_str(&header);
            out.push('\n');
            last_header = Some(header);
        }
        let name = csv_cell(series["name"].as_str().unwrap_or(""));
        let tags = csv_cell(&tags_line(series).replace(", ", ","));
        for row in series["values"].as_array().into_iter().flatten() {
            let cells: Vec<String> = row.as_array().into_iter().flatten().map(|v| csv_cell(&cell(v))).collect();
            out.push_str(&format!("{name},{tags},{}\n", cells.join(",")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let v = serde_json::json!({"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[[1,0.5],[1000,12]]}]});
        assert_eq!(render_table(&v), "name: cpu\ntags: host=a\ntime value\n---- -----\n1    0.5\n1000 12\n");
        assert_eq!(render_csv(&v), "name,tags,time,value\ncpu,host=a,1,0.5\ncpu,host=a,1000,12\n");
    }
}
