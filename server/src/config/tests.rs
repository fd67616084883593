//! Configuration tests: file parsing, every key, precedence of the sources.

use std::collections::HashMap;
use std::io::Write as _;

use super::*;

/// An environment made of the given pairs.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |key: &str| map.get(key).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let f = write_config(text);
    let args = ServeArgs { config: Some(f.path().to_path_buf()), ..ServeArgs::default() };
    Config::load(&args, &no_env)
}

#[test]
fn defaults_without_any_source() {
    let config = Config::load(&ServeArgs::default(), &no_env).expect("loads");
    assert_eq!(config.listen, "127.0.0.1:8086".parse().expect("addr"));
    assert_eq!(config.data_dir, PathBuf::from("./augur-data"));
    assert_eq!(config.storage, StorageConfig::default());
    assert_eq!(config.http, HttpConfig::default());
    assert_eq!(config.http.max_body_size, 32 * 1024 * 1024);
    let options = config.store_options();
    assert_eq!(options.wal_sync, WalSync::Always);
    assert_eq!(options.block_window_ns, 2 * 3_600 * 1_000_000_000);
    assert_eq!(options.max_series_per_database, 1_000_000);
}

#[test]
fn the_documented_example_file_parses() {
    let config = load_text(
        r#"
listen = "0.0.0.0:9999"
data_dir = "/var/lib/augur"

[storage]
wal_sync = "interval"
wal_sync_interval = "250ms"
block_window = "1h"
max_series_per_database = 500000
retention_check_interval = "10m"
block_cache_size = "256MiB"

[http]
max_body_size = "64MiB"
max_concurrent_writes = 8
max_connections = 100
shutdown_timeout = "5s"
"#,
    )
    .expect("loads");
    assert_eq!(config.listen, "0.0.0.0:9999".parse().expect("addr"));
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/augur"));
    assert_eq!(config.storage.wal_sync, WalSync::Interval(Duration::from_millis(250)));
    assert_eq!(config.storage.block_window, Duration::from_secs(3600));
    assert_eq!(config.storage.max_series_per_database, 500_000);
    assert_eq!(config.storage.retention_check_interval, Duration::from_secs(600));
    assert_eq!(config.storage.block_cache_size, 256 << 20);
    assert_eq!(config.store_options().block_cache_bytes, 256 << 20);
    assert_eq!(config.http.max_body_size, 64 << 20);
    assert_eq!(config.http.max_concurrent_writes, 8);
    assert_eq!(config.http.max_connections, 100);
    assert_eq!(config.http.shutdown_timeout, Duration::from_secs(5));
}

#[test]
fn interval_sync_defaults_to_100ms_and_sizes_may_be_bytes() {
    let config = load_text("[storage]\nwal_sync = \"interval\"\n[http]\nmax_body_size = 1000\n").expect("loads");
    assert_eq!(config.storage.wal_sync, WalSync::Interval(Duration::from_millis(100)));
    assert_eq!(config.http.max_body_size, 1000);
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let f = write_config("listen = \"127.0.0.1:1\"\ndata_dir = \"/from/file\"\n");
    let path = f.path().to_string_lossy().to_string();
    let env = env_of(&[(ENV_CONFIG, &path), (ENV_LISTEN, "127.0.0.1:2")]);

    // The file is found through AUGUR_CONFIG; env beats file for listen;
    // the file beats the default for data_dir.
    let config = Config::load(&ServeArgs::default(), &env).expect("loads");
    assert_eq!(config.listen.port(), 2);
    assert_eq!(config.data_dir, PathBuf::from("/from/file"));

    // Flags beat everything.
    let args = ServeArgs {
        listen: Some("127.0.0.1:3".into()),
        data_dir: Some("/from/flag".into()),
        config: None,
        ..ServeArgs::default()
    };
    let config = Config::load(&args, &env).expect("loads");
    assert_eq!(config.listen.port(), 3);
    assert_eq!(config.data_dir, PathBuf::from("/from/flag"));

    // Env beats file for data_dir too; an empty variable counts as unset.
    let env = env_of(&[(ENV_CONFIG, &path), (ENV_DATA_DIR, "/from/env"), (ENV_LISTEN, "")]);
    let config = Config::load(&ServeArgs::default(), &env).expect("loads");
    assert_eq!(config.data_dir, PathBuf::from("/from/env"));
    assert_eq!(config.listen.port(), 1);
}

#[test]
fn config_flag_beats_config_env() {
    let from_flag = write_config("listen = \"127.0.0.1:11\"\n");
    let env = env_of(&[(ENV_CONFIG, "/does/not/exist.toml")]);
    let args = ServeArgs { config: Some(from_flag.path().to_path_buf()), ..ServeArgs::default() };
    assert_eq!(Config::load(&args, &env).expect("loads").listen.port(), 11);
    let err = Config::load(&ServeArgs::default(), &env).expect_err("missing file");
    assert_eq!(err.to_string(), "cannot read config file /does/not/exist.toml");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn listen_accepts_port_only_and_ipv6() {
    let args = |l: &str| ServeArgs { listen: Some(l.into()), ..ServeArgs::default() };
    let config = Config::load(&args(":8086"), &no_env).expect("loads");
    assert_eq!(config.listen, "0.0.0.0:8086".parse().expect("addr"));
    let config = Config::load(&args("[::1]:0"), &no_env).expect("loads");
    assert!(config.listen.is_ipv6());
    let err = Config::load(&args("localhost:8086"), &no_env).expect_err("hostname");
    assert!(err.to_string().starts_with("invalid listen:"), "{err}");
}

#[test]
fn queries_run_inline_unless_turned_off() {
    assert!(load_text("").expect("loads").query.inline);
    assert!(!load_text("[query]\ninline = false\n").expect("loads").query.inline);
    assert!(load_text("[query]\ninline = \"yes\"\n").is_err());
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[storage]\nblock_window = \"soon\"\n", "invalid storage.block_window:"),
        ("[storage]\nwal_sync = \"sometimes\"\n", "invalid config file"),
        ("[storage]\nwal_sync_interval = \"0s\"\n", "invalid storage.wal_sync_interval:"),
        ("[storage]\nretention_check_interval = \"-5m\"\n", "invalid storage.retention_check_interval:"),
        ("[storage]\nblock_cache_size = \"lots\"\n", "invalid storage.block_cache_size:"),
        ("[storage]\nblock_cache_size = 0\n", "invalid storage.block_cache_size:"),
        ("[http]\nmax_body_size = \"32 parsecs\"\n", "invalid http.max_body_size:"),
        ("[http]\nmax_body_size = 0\n", "invalid http.max_body_size:"),
        ("[http]\nmax_concurrent_writes = 0\n", "invalid http.max_concurrent_writes:"),
        ("[http]\nmax_connections = 0\n", "invalid http.max_connections:"),
        ("[http]\nmax_conections = 10\n", "invalid config file"),
        ("lisen = \"x\"\n", "invalid config file"),
        ("listen = \n", "invalid config file"),
    ];
    for (text, prefix) in cases {
        let err = load_text(text).expect_err(text);
        assert!(err.to_string().starts_with(prefix), "{text}: {err}");
    }
}

#[test]
fn continuous_queries_section() {
    let config = Config::load(&ServeArgs::default(), &no_env).expect("loads");
    assert_eq!(config.continuous_queries, ContinuousQueriesConfig::default());
    assert!(config.continuous_queries.enabled);
    let config = load_text("[continuous_queries]\nenabled = false\nrun_interval = \"250ms\"\nmax_catch_up = \"1h\"\n")
        .expect("loads");
    assert_eq!(
        config.continuous_queries,
        ContinuousQueriesConfig {
            enabled: false,
            run_interval: Duration::from_millis(250),
            max_catch_up: Duration::from_secs(3600)
        }
    );
    let err = load_text("[continuous_queries]\nrun_interval = \"soon\"\n").expect_err("bad duration");
    assert!(err.to_string().contains("continuous_queries.run_interval"), "{err}");
    let err = load_text("[continuous_queries]\nrun_every = \"1s\"\n").expect_err("unknown key");
    assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
}

#[test]
fn tls_needs_both_files_and_auth_off_needs_loopback() {
    let env = |_: &str| None;
    let args = ServeArgs { tls_cert: Some("c.pem".into()), ..ServeArgs::default() };
    let err = Config::load(&args, &env).expect_err("cert without key");
    assert!(err.to_string().contains("invalid tls.key"), "{err}");
    let args = ServeArgs { tls_cert: Some("c.pem".into()), tls_key: Some("k.pem".into()), ..ServeArgs::default() };
    let config = Config::load(&args, &env).expect("both");
    assert_eq!(config.tls.map(|t| t.key), Some(PathBuf::from("k.pem")));
    let args = ServeArgs { listen: Some(":0".into()), auth_enabled: Some(false), ..ServeArgs::default() };
    let err = Config::load(&args, &env).expect_err("auth off beyond loopback");
    assert!(err.to_string().contains("authentication is required"), "{err}");
    let on_env = |k: &str| (k == "AUGUR_AUTH_ENABLED").then(|| "off".to_string());
    assert!(!Config::load(&ServeArgs::default(), &on_env).expect("loopback").auth.enabled);
}

#[test]
fn tenant_pool_quotas_are_read_and_checked() {
    let config = load_text("[pools.quotas]\ndefault = { cpu_cores = 64, memory_gib = 256 }\nteam-b = { gpus = 2 }\n")
        .expect("loads");
    let quotas = &config.pools.quotas;
    assert_eq!(quotas.len(), 2);
    assert_eq!(quotas["default"].limits[&crate::pools::spec::Dimension::CpuCores], 64.0);
    assert_eq!(quotas["team-b"].limits[&crate::pools::spec::Dimension::Gpus], 2.0);
    for (text, names) in [
        ("[pools.quotas]\ndefault = { cpu_cores = -1 }\n", "default.limits.cpu_cores"),
        ("[pools.quotas]\ndefault = {}\n", "default.limits"),
        ("[pools.quotas]\n\"bad name\" = { cpu_cores = 1 }\n", "bad name"),
        ("[pools.quotas]\ndefault = { tpus = 1 }\n", "tpus"),
    ] {
        let err = load_text(text).expect_err(text);
        // A TOML error names the key in its source, as the binary prints it.
        let err = format!("{err}: {}", std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default());
        assert!(err.contains(names), "{text}: {err}");
    }
}

#[test]
fn exec_concurrency_defaults_to_32_and_is_bounded() {
    let config = Config::load(&ServeArgs::default(), &no_env).expect("loads");
    assert_eq!(config.pools.exec_concurrency, 32);
    assert_eq!(load_text("[pools]\nexec_concurrency = 4\n").expect("loads").pools.exec_concurrency, 4);
    for text in ["[pools]\nexec_concurrency = 0\n", "[pools]\nexec_concurrency = 10001\n"] {
        let err = load_text(text).expect_err(text);
        assert!(err.to_string().contains("pools.exec_concurrency"), "{text}: {err}");
    }
}
