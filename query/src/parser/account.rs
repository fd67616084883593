//! `CREATE USER`, `DROP USER`, `SET PASSWORD`, `GRANT`, `REVOKE`,
//! `SHOW USERS` and `SHOW GRANTS`, with InfluxDB 1.x's grammar, plus
//! Augur's `WITH ROLE <admin|writer|reader>` on `CREATE USER`.

use super::Parser;
use crate::ast::{AccountStatement, Privilege, RoleName, Statement};
use crate::error::ParseError;
use crate::token::{Keyword, TokenKind};

impl Parser<'_> {
    /// A single-quoted string literal.
    fn string_literal(&mut self) -> Result<String, ParseError> {
        let token = self.bump();
        if token.kind == TokenKind::String {
            Ok(token.lit)
        } else {
            Err(ParseError::unexpected(&token, &["string"]))
        }
    }

    /// After `CREATE USER`.
    pub(super) fn create_user(&mut self) -> Result<Statement, ParseError> {
        let name = self.ident()?;
        self.expect(Keyword::With)?;
        self.expect(Keyword::Password)?;
        let password = self.string_literal()?;
        let mut role = RoleName::Writer;
        if self.eat(Keyword::With) {
            let token = self.bump();
            if token.is(Keyword::All) {
                self.expect(Keyword::Privileges)?;
                role = RoleName::Admin;
            } else if token.is_word("ROLE") {
                let word = self.bump();
                role = RoleName::parse(&word.lit)
                    .filter(|_| word.kind.is_ident())
                    .ok_or_else(|| ParseError::unexpected(&word, &["admin", "writer", "reader"]))?;
            } else {
                return Err(ParseError::unexpected(&token, &["ALL", "ROLE"]));
            }
        }
        Ok(Statement::Account(AccountStatement::CreateUser { name, password, role }))
    }

    /// After `DROP USER`.
    pub(super) fn drop_user(&mut self) -> Result<Statement, ParseError> {
        Ok(Statement::Account(AccountStatement::DropUser { name: self.ident()? }))
    }

    /// After `SET`: `PASSWORD FOR <user> = '<pw>'`.
    pub(super) fn set_password(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::Password)?;
        self.expect(Keyword::For)?;
        let name = self.ident()?;
        self.expect_kind(TokenKind::Eq, "=")?;
        let password = self.string_literal()?;
        Ok(Statement::Account(AccountStatement::SetPassword { name, password }))
    }

    /// After `GRANT` (`grant = true`) or `REVOKE`.
    pub(super) fn grant_or_revoke(&mut self, grant: bool) -> Result<Statement, ParseError> {
        let token = self.bump();
        let privilege = match token.kind {
            TokenKind::Keyword(Keyword::Read) => Privilege::Read,
            TokenKind::Keyword(Keyword::Write) => Privilege::Write,
            TokenKind::Keyword(Keyword::All) => {
                self.eat(Keyword::Privileges);
                Privilege::All
            }
            _ => return Err(ParseError::unexpected(&token, &["READ", "WRITE", "ALL [PRIVILEGES]"])),
        };
        let database = if privilege == Privilege::All && !self.peek().is(Keyword::On) {
            None
        } else {
            self.expect(Keyword::On)?;
            Some(self.ident()?)
        };
        self.expect(if grant { Keyword::To } else { Keyword::From })?;
        let user = self.ident()?;
        Ok(Statement::Account(if grant {
            AccountStatement::Grant { privilege, database, user }
        } else {
            AccountStatement::Revoke { privilege, database, user }
        }))
    }

    /// After `SHOW GRANTS`: `FOR <user>`.
    pub(super) fn show_grants(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::For)?;
        Ok(Statement::Account(AccountStatement::ShowGrants { user: self.ident()? }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{AccountStatement, Privilege, RoleName, Statement};
    use crate::parser::parse_query;

    fn one(text: &str) -> AccountStatement {
        let query = parse_query(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        match query.statements.into_iter().next() {
            Some(Statement::Account(a)) => a,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn err(text: &str) -> String {
        parse_query(text).err().map(|e| e.to_string()).unwrap_or_else(|| panic!("{text} parsed"))
    }

    #[test]
    fn create_and_drop_users() {
        assert_eq!(
            one("CREATE USER bob WITH PASSWORD 'pw'"),
            AccountStatement::CreateUser { name: "bob".into(), password: "pw".into(), role: RoleName::Writer }
        );
        assert_eq!(
            one("create user \"ann\" with password 'x' with all privileges"),
            AccountStatement::CreateUser { name: "ann".into(), password: "x".into(), role: RoleName::Admin }
        );
        assert_eq!(
            one("CREATE USER r WITH PASSWORD 'x' WITH ROLE reader"),
            AccountStatement::CreateUser { name: "r".into(), password: "x".into(), role: RoleName::Reader }
        );
        assert_eq!(one("DROP USER bob"), AccountStatement::DropUser { name: "bob".into() });
        assert_eq!(
            one("SET PASSWORD FOR bob = 'new'"),
            AccountStatement::SetPassword { name: "bob".into(), password: "new".into() }
        );
    }

    #[test]
    fn grants_and_revokes() {
        assert_eq!(
            one("GRANT READ ON db TO bob"),
            AccountStatement::Grant { privilege: Privilege::Read, database: Some("db".into()), user: "bob".into() }
        );
        assert_eq!(
            one("GRANT ALL PRIVILEGES TO bob"),
            AccountStatement::Grant { privilege: Privilege::All, database: None, user: "bob".into() }
        );
        assert_eq!(
            one("GRANT ALL ON db TO bob"),
            AccountStatement::Grant { privilege: Privilege::All, database: Some("db".into()), user: "bob".into() }
        );
        assert_eq!(
            one("REVOKE WRITE ON db FROM bob"),
            AccountStatement::Revoke { privilege: Privilege::Write, database: Some("db".into()), user: "bob".into() }
        );
        assert_eq!(
            one("REVOKE ALL FROM bob"),
            AccountStatement::Revoke { privilege: Privilege::All, database: None, user: "bob".into() }
        );
        assert_eq!(one("SHOW USERS"), AccountStatement::ShowUsers);
        assert_eq!(one("SHOW GRANTS FOR bob"), AccountStatement::ShowGrants { user: "bob".into() });
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(err("CREATE USER bob WITH PASSWORD pw"), "found pw, expected string at line 1, char 31");
        assert_eq!(err("GRANT READ TO bob"), "found TO, expected ON at line 1, char 12");
        assert_eq!(err("GRANT READ ON db FROM bob"), "found FROM, expected TO at line 1, char 18");
        assert_eq!(err("SHOW GRANTS"), "found EOF, expected FOR at line 1, char 13");
        assert!(err("CREATE USER r WITH PASSWORD 'x' WITH ROLE boss").contains("expected admin, writer, reader"));
    }
}
