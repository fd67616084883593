//! What each statement needs the caller to be allowed to do.
//!
//! Why in the query crate: only the parser's AST knows every database a
//! statement touches (sources, subqueries, `INTO` targets, `ON` clauses),
//! and a new statement must not be able to skip authorization, so the
//! match below is exhaustive: adding a [`Statement`] variant does not
//! compile until its requirements are written here. The server checks the
//! requirements of every statement of a request before running any, as
//! InfluxDB does (`RequiredPrivileges`).

use crate::ast::{AccountStatement, Select, Source, Statement};

/// The kind of access a statement needs on one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read its data or schema.
    Read,
    /// Write or delete its data.
    Write,
    /// Administer it (create/drop it, change its retention policies).
    Admin,
}

impl Access {
    /// The word used in "requires READ on db".
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "READ",
            Access::Write => "WRITE",
            Access::Admin => "ADMIN",
        }
    }
}

/// One thing a statement needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// `access` on `database` (`None`: the request's `db` parameter, and
    /// the statement fails later if there is none).
    Database {
        /// What kind of access.
        access: Access,
        /// Which database.
        database: Option<String>,
    },
    /// Being an admin of the caller's tenant: managing its users, `KILL QUERY`.
    UserAdmin,
    /// Changing `user`'s password: that user itself or a user admin.
    SelfOrUserAdmin(String),
}

impl Requirement {
    fn db(access: Access, database: Option<&str>) -> Requirement {
        Requirement::Database { access, database: database.map(str::to_string) }
    }
}

/// Everything `statement` needs, with `default_db` the request's `db`
/// parameter. Statements that list things (`SHOW DATABASES`, `SHOW
/// CONTINUOUS QUERIES`, `SHOW QUERIES`) need nothing: their output is filtered to what the
/// caller can see instead.
pub fn required(statement: &Statement, default_db: Option<&str>) -> Vec<Requirement> {
    let own_or_default = |own: &Option<String>| own.as_deref().or(default_db).map(str::to_string);
    let on =
        |access: Access, own: &Option<String>| vec![Requirement::Database { access, database: own_or_default(own) }];
    match statement {
        Statement::CreateDatabase(c) => vec![Requirement::db(Access::Admin, Some(&c.name))],
        Statement::DropDatabase { name } => vec![Requirement::db(Access::Admin, Some(name))],
        Statement::ShowDatabases
        | Statement::ShowContinuousQueries
        | Statement::ShowQueries
        | Statement::Unsupported { .. } => Vec::new(),
        Statement::KillQuery { .. } => vec![Requirement::UserAdmin],
        Statement::CreateRetentionPolicy(c) => vec![Requirement::db(Access::Admin, Some(&c.database))],
        Statement::AlterRetentionPolicy(a) => vec![Requirement::db(Access::Admin, Some(&a.database))],
        Statement::DropRetentionPolicy { database, .. } => vec![Requirement::db(Access::Admin, Some(database))],
        Statement::ShowRetentionPolicies { database } => on(Access::Read, database),
        Statement::ShowMeasurements(s) => on(Access::Read, &s.database),
        Statement::ShowFieldKeys { database, from } => {
            let mut needs = on(Access::Read, database);
            for m in from {
                if m.database.is_some() {
                    needs.push(Requirement::db(Access::Read, m.database.as_deref()));
                }
            }
            needs
        }
        Statement::ShowFieldKeysMatching(s) => {
            let mut needs = on(Access::Read, &s.database);
            sources(&s.sources, default_db, &mut needs);
            needs
        }
        Statement::ShowSeries(s) => on(Access::Read, &s.database),
        Statement::ShowTagKeys(s) | Statement::ShowTagValues(s) => on(Access::Read, &s.database),
        Statement::ShowCardinality(s) => on(Access::Read, &s.clauses.database),
        Statement::Select(select) => {
            let mut needs = Vec::new();
            select_needs(select, default_db, &mut needs);
            needs
        }
        Statement::Delete(d) | Statement::DropSeries(d) => {
            let mut needs = vec![Requirement::db(Access::Write, default_db)];
            for source in &d.sources {
                if let Source::Measurement(m) = source {
                    if m.database.is_some() {
                        needs.push(Requirement::db(Access::Write, m.database.as_deref()));
                    }
                }
            }
            needs
        }
        Statement::DropMeasurement { .. } => vec![Requirement::db(Access::Write, default_db)],
        Statement::CreateContinuousQuery(c) => {
            // The query runs later, unattended: whoever creates it must be
            // allowed to read its sources and write its target now.
            let mut needs = vec![Requirement::db(Access::Write, Some(&c.database))];
            select_needs(&c.select, Some(&c.database), &mut needs);
            needs
        }
        Statement::DropContinuousQuery { database, .. } => vec![Requirement::db(Access::Write, Some(database))],
        // Without `ON`, the listing is filtered to the databases the caller sees.
        Statement::ShowModels { database } | Statement::ShowForecastAccuracy { database } => match database {
            Some(db) => vec![Requirement::db(Access::Read, Some(db))],
            None => Vec::new(),
        },
        Statement::RollbackModel { database, .. } => vec![Requirement::db(Access::Write, Some(database))],
        Statement::Account(AccountStatement::SetPassword { name, .. }) => {
            vec![Requirement::SelfOrUserAdmin(name.clone())]
        }
        Statement::Account(_) => vec![Requirement::UserAdmin],
    }
}

/// Read on every source (subqueries included), write on the `INTO` target.
fn select_needs(select: &Select, default_db: Option<&str>, needs: &mut Vec<Requirement>) {
    sources(&select.sources, default_db, needs);
    if let Some(into) = &select.into {
        needs.push(Requirement::db(Access::Write, into.database.as_deref().or(default_db)));
    }
}

fn sources(sources: &[Source], default_db: Option<&str>, needs: &mut Vec<Requirement>) {
    for source in sources {
        let need = match source {
            Source::Measurement(m) => Requirement::db(Access::Read, m.database.as_deref().or(default_db)),
            Source::Regex { database, .. } => Requirement::db(Access::Read, database.as_deref().or(default_db)),
            Source::Subquery(inner) => {
                select_needs(inner, default_db, needs);
                continue;
            }
        };
        if !needs.contains(&need) {
            needs.push(need);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_query;

    fn needs(text: &str, db: Option<&str>) -> Vec<Requirement> {
        let query = parse_query(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        query.statements.iter().flat_map(|s| required(s, db)).collect()
    }

    fn read(db: &str) -> Requirement {
        Requirement::db(Access::Read, Some(db))
    }

    fn write(db: &str) -> Requirement {
        Requirement::db(Access::Write, Some(db))
    }

    #[test]
    fn selects_need_read_on_every_source_and_write_on_into() {
        assert_eq!(needs("SELECT * FROM cpu", Some("a")), vec![read("a")]);
        assert_eq!(needs("SELECT * FROM b..cpu, /m/, c.autogen./x/", Some("a")), vec![read("b"), read("a"), read("c")]);
        assert_eq!(needs("SELECT mean(v) FROM (SELECT v FROM b..cpu)", Some("a")), vec![read("b")]);
        assert_eq!(needs("SELECT v INTO t..m FROM cpu", Some("a")), vec![read("a"), write("t")]);
        assert_eq!(
            needs("SELECT v FROM cpu", None),
            vec![Requirement::Database { access: Access::Read, database: None }]
        );
    }

    #[test]
    fn admin_and_user_statements() {
        assert_eq!(needs("CREATE DATABASE x", Some("a")), vec![Requirement::db(Access::Admin, Some("x"))]);
        assert_eq!(needs("DROP RETENTION POLICY r ON x", None), vec![Requirement::db(Access::Admin, Some("x"))]);
        assert_eq!(needs("SHOW USERS", None), vec![Requirement::UserAdmin]);
        assert_eq!(needs("GRANT READ ON x TO bob", None), vec![Requirement::UserAdmin]);
        assert_eq!(needs("SET PASSWORD FOR bob = 'x'", None), vec![Requirement::SelfOrUserAdmin("bob".into())]);
        assert!(needs("SHOW DATABASES", None).is_empty());
        assert_eq!(needs("DELETE FROM cpu", Some("a")), vec![write("a")]);
        assert_eq!(
            needs("CREATE CONTINUOUS QUERY c ON a BEGIN SELECT mean(v) INTO b..m FROM cpu GROUP BY time(1m) END", None),
            vec![write("a"), read("a"), write("b")]
        );
    }
}
