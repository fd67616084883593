//! The command line: `augur serve`, `augur version`, the client commands,
//! `augur simulate` and `augur demo`.
//!
//! Only the shape of the command line lives here (clap derive); how flags,
//! environment and the configuration file combine is [`crate::config`]'s
//! job, so that precedence is decided in one place and unit-tested without
//! touching the process environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Augur: a time-series database that speaks InfluxDB 1.x.
#[derive(Debug, Parser)]
#[command(name = "augur", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the database server.
    Serve(ServeArgs),
    /// Print the version and exit.
    Version,
    /// Import line protocol or CSV files into a database over HTTP.
    Import(crate::client::import::ImportArgs),
    /// Export a database as line protocol or CSV.
    Export(crate::client::export::ExportArgs),
    /// Run InfluxQL statements, or an interactive shell.
    Query(crate::client::query::QueryArgs),
    /// Replay a demand trace through the allocator: predictive vs reactive vs oracle.
    Simulate(crate::pools::simulate::SimulateArgs),
    /// A live demo: replay real traces, forecast them, scale a pool ahead of demand.
    Demo(crate::demo::DemoArgs),
}

/// Flags of `augur serve`. Every flag is optional: an absent flag falls back
/// to its environment variable, then the configuration file, then the
/// default (see docs/configuration.md).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Directory holding the database files [env: AUGUR_DATA_DIR] [default: ./augur-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on, `ip:port` or `:port` for all interfaces; port 0
    /// picks a free port [env: AUGUR_LISTEN] [default: 127.0.0.1:8086]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// TOML configuration file [env: AUGUR_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Require credentials (`false` only for a local trial on loopback)
    /// [env: AUGUR_AUTH_ENABLED] [default: true]
    #[arg(long, value_name = "BOOL")]
    pub auth_enabled: Option<bool>,
    /// PEM certificate chain: serve HTTPS (with --tls-key) [env: AUGUR_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [env: AUGUR_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_serve_flags() {
        let cli = Cli::try_parse_from([
            "augur",
            "serve",
            "--data-dir",
            "/tmp/x",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "a.toml",
        ])
        .expect("parses");
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        assert_eq!(args.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(args.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(args.config, Some(PathBuf::from("a.toml")));
    }

    #[test]
    fn version_and_unknown_commands() {
        assert!(matches!(Cli::try_parse_from(["augur", "version"]).map(|c| c.command), Ok(Command::Version)));
        assert!(Cli::try_parse_from(["augur", "simulate"]).is_err(), "--trace is required");
        assert!(Cli::try_parse_from(["augur", "frobnicate"]).is_err());
        let cli =
            Cli::try_parse_from(["augur", "simulate", "--trace", "t.csv", "--lead-time", "10m", "--policy", "oracle"])
                .expect("parses");
        let Command::Simulate(args) = cli.command else { panic!("not simulate") };
        assert_eq!(args.lead_time, 600_000_000_000);
    }

    #[test]
    fn parses_demo_flags() {
        let cli =
            Cli::try_parse_from(["augur", "demo", "--listen", "127.0.0.1:0", "--duration", "45s"]).expect("parses");
        let Command::Demo(args) = cli.command else { panic!("not demo") };
        assert_eq!(args.duration, Some(std::time::Duration::from_secs(45)));
        assert_eq!(args.step, std::time::Duration::from_secs(1));
        assert!(Cli::try_parse_from(["augur", "demo", "--step", "0.5s"]).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
