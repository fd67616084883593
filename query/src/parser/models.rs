//! `SHOW MODELS` and `SHOW FORECAST ACCURACY` (Augur's model registry).
//!
//! Why contextual words: `MODELS`, `FORECAST` and `ACCURACY` are not
//! InfluxQL keywords, and reserving them would break queries that use
//! them as measurement or field names; after `SHOW` they are unambiguous.

use super::Parser;
use crate::ast::Statement;
use crate::error::ParseError;

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
}
