//! The leadership loop on its own, with a scripted leader: one process that
//! always leads, and (with PostgreSQL) instances competing for one lease.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{lead_while_leader, LeaderLease, Leadership, TermError, TermLeader, Terms};
use crate::{
    database::Database,
    test_support::{eventually, TestDatabase},
};

const WITHIN: Duration = Duration::from_secs(10);
/// How often the scripted leader confirms its lease while leading.
const LEASE_CHECK: Duration = Duration::from_millis(20);

/// What a scripted leader did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Found the lease taken.
    StoodBy,
    /// Began its `n`th term.
    Led(u32),
    /// Found its lease gone while leading.
    LostLease,
    /// Drained at shutdown: whether the term was still on, and whether the
    /// lease was still held (another instance could not take it).
    Drained { term_on: bool, lease_held: bool },
    /// Was told its `n`th failure in a row.
    Interrupted(u32),
}

/// A leader whose first `failing_terms` terms fail; later terms lead until
/// shutdown or a lost lease.
struct Scripted {
    lease: String,
    terms: Terms,
    failing_terms: u32,
    /// Another instance's view of the lease, to see who holds it during a drain.
    rival: Leadership,
    steps: Mutex<Vec<Step>>,
    /// The tokens of the terms begun, oldest first.
    term_tokens: Mutex<Vec<CancellationToken>>,
}

impl Scripted {
    fn new(lease: &str, failing_terms: u32, rival: Leadership) -> Arc<Self> {
        Arc::new(Self {
            lease: lease.to_owned(),
            terms: Terms::new(CancellationToken::new()),
            failing_terms,
            rival,
            steps: Mutex::new(Vec::new()),
            term_tokens: Mutex::new(Vec::new()),
        })
    }

    fn record(&self, step: Step) {
        self.steps.lock().expect("steps").push(step);
    }

    fn steps(&self) -> Vec<Step> {
        self.steps.lock().expect("steps").clone()
    }

    fn count(&self, wanted: impl Fn(&Step) -> bool) -> usize {
        self.steps().iter().filter(|s| wanted(s)).count()
    }

    fn terms_led(&self) -> usize {
        self.count(|s| matches!(s, Step::Led(_)))
    }

    fn term_tokens(&self) -> Vec<CancellationToken> {
        self.term_tokens.lock().expect("tokens").clone()
    }

    /// Leads under `leadership` until its shutdown.
    fn spawn(self: &Arc<Self>, leadership: Leadership) -> JoinHandle<()> {
        tokio::spawn(lead_while_leader(self.clone(), Arc::new(()), leadership))
    }

    /// Shuts it down and waits for its loop to return.
    async fn shut_down(&self, task: JoinHandle<()>) {
        self.terms.shutdown().cancel();
        tokio::time::timeout(WITHIN, task)
            .await
            .expect("the loop returns soon after shutdown")
            .expect("the loop does not panic");
    }
}

#[async_trait]
impl TermLeader<()> for Scripted {
    fn lease(&self) -> &str {
        &self.lease
    }

    fn terms(&self) -> &Terms {
        &self.terms
    }

    fn standing_by(&self) {
        self.record(Step::StoodBy);
    }

    async fn drain(&self) {
        let lease_held = match self.rival.try_acquire(&self.lease).await {
            Ok(Some(taken)) => {
                taken.release().await;
                false
            }
            Ok(None) => true,
            Err(error) => panic!("cannot ask for the lease: {error}"),
        };
        let term_on = !self.terms.current().is_cancelled();
        self.record(Step::Drained {
            term_on,
            lease_held,
        });
    }

    async fn lead_term(self: Arc<Self>, _: &(), lease: &mut LeaderLease) -> Result<(), TermError> {
        let term = self.terms.current();
        self.term_tokens.lock().expect("tokens").push(term);
        let n = u32::try_from(self.terms_led()).unwrap_or(u32::MAX) + 1;
        self.record(Step::Led(n));
        if n <= self.failing_terms {
            let source = sqlx::Error::Protocol(format!("term {n} fails"));
            return Err(TermError::checkpoint(&self.lease, source));
        }
        loop {
            tokio::select! {
                () = self.terms.shutdown().cancelled() => return Ok(()),
                () = tokio::time::sleep(LEASE_CHECK) => {}
            }
            if !lease.is_held().await {
                self.record(Step::LostLease);
                return Ok(());
            }
        }
    }

    fn interrupted(&self, _: &TermError, failures: u32) -> Duration {
        self.record(Step::Interrupted(failures));
        Duration::from_millis(10)
    }
}

#[tokio::test]
async fn a_single_process_leads_and_drains_before_its_term_ends() {
    let leader = Scripted::new("solo", 0, Leadership::SingleProcess);
    let task = leader.spawn(Leadership::SingleProcess);
    eventually(WITHIN, "leading", || async { leader.terms_led() == 1 }).await;

    leader.shut_down(task).await;

    assert_eq!(
        leader.steps(),
        vec![
            Step::Led(1),
            Step::Drained {
                term_on: true,
                // A single process grants every lease: nobody else to keep out.
                lease_held: false,
            },
        ]
    );
    assert!(
        leader.term_tokens()[0].is_cancelled(),
        "the term ended after the drain"
    );
}

#[tokio::test]
async fn a_failing_term_is_retried_in_a_new_term() {
    let leader = Scripted::new("flaky", 2, Leadership::SingleProcess);
    let task = leader.spawn(Leadership::SingleProcess);
    eventually(WITHIN, "a third term", || async { leader.terms_led() == 3 }).await;

    leader.shut_down(task).await;

    assert_eq!(
        leader.steps()[..5],
        [
            Step::Led(1),
            Step::Interrupted(1),
            Step::Led(2),
            Step::Interrupted(2),
            Step::Led(3),
        ]
    );
    let tokens = leader.term_tokens();
    assert!(
        tokens.iter().all(CancellationToken::is_cancelled),
        "every term, failed or shut down, is ended"
    );
}

/// A second instance of `db`: a pool of its own, as another process has.
async fn instance(db: &TestDatabase) -> Leadership {
    let database = Database::connect_postgres(&db.location, 4)
        .await
        .expect("connect a second instance");
    Leadership::for_database(&database)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_instance_stands_by_until_the_first_drains_and_releases() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (one, two) = (instance(&db).await, instance(&db).await);
    let first = Scripted::new("contested", 0, two.clone());
    let second = Scripted::new("contested", 0, one.clone());
    let first_task = first.spawn(one);
    eventually(WITHIN, "the first leads", || async {
        first.terms_led() == 1
    })
    .await;
    let second_task = second.spawn(two);
    eventually(WITHIN, "the second stands by twice", || async {
        second.count(|s| *s == Step::StoodBy) >= 2
    })
    .await;
    assert_eq!(second.terms_led(), 0, "only one instance leads");

    first.shut_down(first_task).await;
    eventually(WITHIN, "the second takes over", || async {
        second.terms_led() == 1
    })
    .await;

    assert_eq!(
        first.steps(),
        vec![
            Step::Led(1),
            Step::Drained {
                term_on: true,
                lease_held: true,
            },
        ],
        "the first drained while it still held the lease"
    );
    second.shut_down(second_task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_instance_takes_over_from_a_killed_leader() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (one, two) = (instance(&db).await, instance(&db).await);
    let first = Scripted::new("killed", 0, two.clone());
    let second = Scripted::new("killed", 0, one.clone());
    let first_task = first.spawn(one);
    eventually(WITHIN, "the first leads", || async {
        first.terms_led() == 1
    })
    .await;
    let second_task = second.spawn(two);
    eventually(WITHIN, "the second stands by", || async {
        second.count(|s| *s == Step::StoodBy) >= 1
    })
    .await;

    // Dropped mid-term, as a killed process is: its lease's connection closes.
    first_task.abort();
    eventually(WITHIN, "the second takes over", || async {
        second.terms_led() == 1
    })
    .await;

    second.shut_down(second_task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_away_ends_its_term_and_someone_leads_again() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (one, two) = (instance(&db).await, instance(&db).await);
    let first = Scripted::new("partitioned", 0, two.clone());
    let second = Scripted::new("partitioned", 0, one.clone());
    let first_task = first.spawn(one);
    eventually(WITHIN, "the first leads", || async {
        first.terms_led() == 1
    })
    .await;
    let second_task = second.spawn(two);

    let Database::Postgres(pool) = &db.database else {
        panic!("a PostgreSQL test database");
    };
    // The server ends the session holding the lock, as it does for a
    // connection lost to a network partition.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory'
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .execute(pool)
    .await
    .expect("end the lease's session");
    eventually(WITHIN, "the first notices", || async {
        first.count(|s| *s == Step::LostLease) == 1
    })
    .await;
    assert!(
        first.term_tokens()[0].is_cancelled(),
        "the lost term is ended"
    );
    eventually(
        WITHIN,
        "a new term, on one instance or the other",
        || async { first.terms_led() + second.terms_led() == 2 },
    )
    .await;

    first.shut_down(first_task).await;
    second.shut_down(second_task).await;
}
