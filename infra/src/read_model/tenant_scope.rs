//! Which tenants' rows a query may see: one workspace's, and for the
//! installation's first workspace also the rows recorded before workspaces
//! existed (tenant `default`), so an upgraded installation's owner keeps
//! seeing what was there. Two values, always bound as two parameters, so
//! the SQL stays fixed.

use crate::event_store::DEFAULT_TENANT;

/// The tenants a query is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant: String,
    with_default: bool,
}

impl TenantScope {
    /// Rows of `tenant` only.
    pub fn only(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            with_default: false,
        }
    }

    /// Rows of `tenant` and of the `default` tenant.
    pub fn with_default(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            with_default: true,
        }
    }

    /// Whether a row of `tenant` is in scope.
    pub fn contains(&self, tenant: &str) -> bool {
        tenant == self.tenant || (self.with_default && tenant == DEFAULT_TENANT)
    }

    /// The two values a `tenant_id IN (a, b)` filter binds.
    pub fn binds(&self) -> (&str, &str) {
        let second = if self.with_default {
            DEFAULT_TENANT
        } else {
            self.tenant.as_str()
        };
        (self.tenant.as_str(), second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_holds_its_tenant_and_default_only_when_asked() {
        let only = TenantScope::only("w1");
        assert!(only.contains("w1") && !only.contains("default") && !only.contains("w2"));
        assert_eq!(only.binds(), ("w1", "w1"));
        let first = TenantScope::with_default("w1");
        assert!(first.contains("w1") && first.contains("default") && !first.contains("w2"));
        assert_eq!(first.binds(), ("w1", "default"));
    }
}
