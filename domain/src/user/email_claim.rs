//! The `EmailClaim` aggregate: which account holds an e-mail address. One
//! stream per address (its id derived from the address at the edge), so two
//! registrations racing for one address are serialised by the store's
//! expected-version check and exactly one wins, as webhook paths are; and
//! signing in finds the account by loading one small stream, no read model
//! in between.

use serde::{Deserialize, Serialize};

use super::{UserError, UserId};
use crate::aggregate::{Aggregate, DomainEvent};

/// Hold the address for an account.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimEmail {
    /// The address, normalised with [`normalise_email`](super::normalise_email).
    pub email: String,
    /// The account that will hold it.
    pub user_id: UserId,
    /// A holder the edge found to be no account at all (its registration
    /// stopped between claiming the address and recording the account):
    /// the claim passes from it, so the address is not lost for good.
    pub replacing: Option<UserId>,
}

/// What happened to an address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EmailClaimEvent {
    /// An account holds the address.
    #[serde(rename = "EmailClaimed")]
    Claimed {
        /// The address.
        email: String,
        /// The account.
        user_id: UserId,
    },
}

impl DomainEvent for EmailClaimEvent {
    fn event_type(&self) -> &'static str {
        "EmailClaimed"
    }
}

/// Who holds one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmailClaim {
    holder: Option<UserId>,
}

impl EmailClaim {
    /// The account holding the address, if one does.
    pub fn holder(&self) -> Option<UserId> {
        self.holder
    }
}

impl Aggregate for EmailClaim {
    const TYPE: &'static str = "user_email";
    type Command = ClaimEmail;
    type Event = EmailClaimEvent;
    type Error = UserError;

    fn handle(&self, command: ClaimEmail) -> Result<Vec<EmailClaimEvent>, UserError> {
        match self.holder {
            Some(holder) if holder == command.user_id => Ok(Vec::new()),
            Some(holder) if Some(holder) != command.replacing => Err(UserError::EmailTaken),
            Some(_) | None => Ok(vec![EmailClaimEvent::Claimed {
                email: command.email,
                user_id: command.user_id,
            }]),
        }
    }

    fn apply(&mut self, event: EmailClaimEvent) {
        match event {
            EmailClaimEvent::Claimed { user_id, .. } => self.holder = Some(user_id),
        }
    }
}
