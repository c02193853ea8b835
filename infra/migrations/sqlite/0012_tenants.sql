-- Every workflow, execution and saga row names the tenant (workspace) its
-- stream belongs to, so lists are filtered by the caller's workspace. Rows
-- from before workspaces existed belong to the tenant `default`.
ALTER TABLE workflow_views ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE execution_views ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE saga_views ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX workflow_views_tenant ON workflow_views (tenant_id, id);
CREATE INDEX execution_views_tenant ON execution_views (tenant_id, id);
CREATE INDEX saga_views_tenant ON saga_views (tenant_id, id);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, position);
