//! `SHOW MODELS` and `SHOW FORECAST ACCURACY` (Augur's model registry).
//!
//! Why contextual words: `MODELS`, `FORECAST` and `ACCURACY` are not
//! InfluxQL keywords, and reserving them would break queries that use
//! them as measurement or field names; after `SHOW` they are unambiguous.

use super::Parser;
use crate::ast::Statement;
use crate::error::ParseError;
use crate::token::{Keyword, TokenKind};

impl Parser<'_> {
    /// After `SHOW MODELS`.
    pub(super) fn show_models(&mut self) -> Result<Statement, ParseError> {
        Ok(Statement::ShowModels { database: self.on_clause()? })
    }

    /// After `SHOW FORECAST`.
    pub(super) fn show_forecast_accuracy(&mut self) -> Result<Statement, ParseError> {
        let token = self.bump();
        if !token.is_word("ACCURACY") {
            return Err(ParseError::unexpected(&token, &["ACCURACY"]));
        }
        Ok(Statement::ShowForecastAccuracy { database: self.on_clause()? })
    }

    /// After `ALTER MODEL`: `<group> ON <db> ROLLBACK TO <version>`.
    pub(super) fn alter_model(&mut self) -> Result<Statement, ParseError> {
        let group = self.ident()?;
        self.expect(Keyword::On)?;
        let database = self.ident()?;
        let token = self.bump();
        if !token.is_word("ROLLBACK") {
            return Err(ParseError::unexpected(&token, &["ROLLBACK"]));
        }
        self.expect(Keyword::To)?;
        let token = self.bump();
        match (token.kind, token.lit.parse::<u32>()) {
            (TokenKind::Integer, Ok(version)) if version > 0 => {
                Ok(Statement::RollbackModel { group, database, version })
            }
            _ => Err(ParseError::unexpected(&token, &["version number"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::Statement;
    use crate::parser::test_util::{err, one};

    #[test]
    fn show_models_and_accuracy() {
        assert_eq!(one("SHOW MODELS"), Statement::ShowModels { database: None });
        assert_eq!(one("show models on \"my db\""), Statement::ShowModels { database: Some("my db".into()) });
        assert_eq!(one("SHOW FORECAST ACCURACY"), Statement::ShowForecastAccuracy { database: None });
        assert_eq!(
            one("SHOW FORECAST ACCURACY ON db"),
            Statement::ShowForecastAccuracy { database: Some("db".into()) }
        );
        for q in ["SHOW MODELS", "SHOW MODELS ON db", "SHOW FORECAST ACCURACY ON \"a b\""] {
            assert_eq!(one(q).to_string(), q);
            assert!(!one(q).is_write());
        }
        assert_eq!(err("SHOW FORECAST"), "found EOF, expected ACCURACY at line 1, char 15");
        assert_eq!(err("SHOW FORECAST ERRORS"), "found ERRORS, expected ACCURACY at line 1, char 15");
        assert_eq!(err("SHOW MODELS ON"), "found EOF, expected identifier at line 1, char 16");
        assert_eq!(err("SHOW MODELS x"), "found x, expected ; at line 1, char 13");
    }

    #[test]
    fn alter_model_rollback() {
        let q = "ALTER MODEL \"cf/load,host=a\" ON demo ROLLBACK TO 2";
        assert_eq!(
            one(q),
            Statement::RollbackModel { group: "cf/load,host=a".into(), database: "demo".into(), version: 2 }
        );
        assert_eq!(one(q).to_string(), q);
        assert!(one(q).is_write());
        assert_eq!(err("ALTER MODEL g ON d ROLLBACK TO 0"), "found 0, expected version number at line 1, char 32");
        assert_eq!(err("ALTER MODEL g ON d ROLLBACK TO x"), "found x, expected version number at line 1, char 32");
        assert_eq!(err("ALTER MODEL g ON d UNDO"), "found UNDO, expected ROLLBACK at line 1, char 20");
        assert_eq!(err("ALTER MODEL g"), "found EOF, expected ON at line 1, char 15");
        assert_eq!(err("ALTER FOO"), "found FOO, expected RETENTION at line 1, char 7");
    }
}
