//! `docker-compose.yml` and the `Dockerfile` hang together. No Docker engine
//! runs where these tests run, so the stack itself cannot be started here;
//! what can be checked is that everything the files mount, build and point
//! at exists and agrees: the mounted monitoring files, the services the
//! URLs name, the port Prometheus scrapes, the datasource Grafana uses, and
//! an image that builds the `flowforge` binary and runs it unprivileged.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn load(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{path:?} is not YAML: {e}"))
        .remove(0)
}

fn compose() -> Yaml {
    load(&repository().join("docker-compose.yml"))
}

fn text(value: &Yaml) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// `host:port` of a `scheme://[user@]host:port[/path]` URL.
fn host_and_port(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    authority.split_once(':').expect("a port in the URL")
}

#[test]
fn the_stack_has_its_services() {
    let compose = compose();
    for service in [
        "postgres",
        "nats",
        "flowforge",
        "prometheus",
        "grafana",
        "jaeger",
    ] {
        assert!(
            !compose["services"][service].is_badvalue(),
            "docker-compose.yml lacks the {service} service"
        );
    }
    let nats = compose["services"]["nats"]["command"]
        .as_vec()
        .expect("nats command");
    assert!(
        nats.iter()
            .any(|a| matches!(text(a), "--jetstream" | "-js")),
        "NATS must run with JetStream"
    );
}

#[test]
fn every_mounted_file_exists() {
    let compose = compose();
    let services = compose["services"].as_hash().expect("services");
    let mut mounts = 0;
    for (name, service) in services {
        for volume in service["volumes"].as_vec().into_iter().flatten() {
            let source = text(volume).split(':').next().expect("a source");
            if source.starts_with("./") {
                mounts += 1;
                assert!(
                    repository().join(source).exists(),
                    "{} mounts {source}, which does not exist",
                    text(name)
                );
            }
        }
    }
    assert!(mounts >= 3, "the monitoring files are mounted");
}

#[test]
fn flowforge_points_at_the_stack_and_prometheus_at_flowforge() {
    let compose = compose();
    let services = &compose["services"];
    let flowforge = &services["flowforge"];
    assert!(
        repository()
            .join(text(&flowforge["build"]))
            .join("Dockerfile")
            .exists(),
        "flowforge is built from the Dockerfile"
    );
    let env = &flowforge["environment"];
    for (variable, service) in [
        ("DATABASE_URL", "postgres"),
        ("NATS_URL", "nats"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger"),
    ] {
        let (host, _) = host_and_port(text(&env[variable]));
        assert_eq!(host, service, "{variable} names the {service} service");
    }
    let (_, listen_port) = text(&env["FLOWFORGE_LISTEN"])
        .rsplit_once(':')
        .expect("FLOWFORGE_LISTEN host:port");

    let prometheus = load(&repository().join("monitoring/prometheus/prometheus.yml"));
    let target = text(&prometheus["scrape_configs"][0]["static_configs"][0]["targets"][0]);
    assert_eq!(target, format!("flowforge:{listen_port}"));

    let datasources =
        load(&repository().join("monitoring/grafana/provisioning/datasources/prometheus.yml"));
    let (host, port) = host_and_port(text(&datasources["datasources"][0]["url"]));
    assert_eq!((host, port), ("prometheus", "9090"));
    assert!(!services[host].is_badvalue());

    let dashboards =
        load(&repository().join("monitoring/grafana/provisioning/dashboards/flowforge.yml"));
    let path = text(&dashboards["providers"][0]["options"]["path"]);
    let grafana_mounts = services["grafana"]["volumes"].as_vec().expect("volumes");
    assert!(
        grafana_mounts
            .iter()
            .any(|v| text(v).starts_with("./monitoring/grafana/dashboards:")
                && text(v).contains(&format!(":{path}"))),
        "the dashboards are mounted where the provider reads them ({path})"
    );
}

#[test]
fn the_image_builds_flowforge_and_runs_it_unprivileged() {
    let dockerfile =
        std::fs::read_to_string(repository().join("Dockerfile")).expect("the Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.trim_start().starts_with("FROM "))
        .count();
    assert!(stages >= 2, "a multi-stage build");
    assert!(dockerfile.contains("cargo build --release --locked --bin flowforge"));
    let final_stage = dockerfile.rsplit("\nFROM ").next().expect("a final stage");
    let user = final_stage
        .lines()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap_or(user);
    assert!(
        !matches!(uid, "root" | "0"),
        "the server runs unprivileged, not as {user}"
    );
    assert!(final_stage.contains(r#"ENTRYPOINT ["flowforge"]"#));
}
