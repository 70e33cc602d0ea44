// The map of the api on a Citus cluster (docs/scaling.md): each workload's outcome after
// npm run distribute, as test/citus/cluster.test.ts finds it: "works", or "fails: <SQLSTATE>
// <message>", or "no subject: ..." (its arguments could not be chosen). A change in the api
// that makes a routine work on Citus (or breaks one) makes that test fail: record the new
// outcome here and in docs/scaling.md.
export const EXPECTED: Record<string, string> = {
  "api.collection_statistics": "works",
  "api.collection_statistics (fresh)": "works",
  "api.knowledge_gap_stats": "works",
  "api.document_status_counts": "works",
  "api.chunks_for_documents": "works",
  "api.chunks_page": "works",
  "api.classify_documents": "works",
  "api.confirm_classifications": "works",
  "api.delete_documents": "works",
  "api.delete_documents (hard)": "works",
  "api.purge_documents_batch": "works",
  "api.new_external_ids": "works",
  "api.validate_session": "works",
  "api.user_conversations": "works",
  "api.conversation_messages": "works",
  "api.gap_answers": "works",
  "api.active_operations": "works",
  "api.agent_by_name": "works",
  "api.active_agents": "works",
  "api.workflows_by_status": "works",
  "api.workflow_tasks": "works",
  "api.start_conversation": "works",
  "api.add_messages": "works",
  "api.open_gaps": "works",
  "api.answer_gap": "works",
  "api.set_gap_status": "works",
  "api.upsert_agents": "works",
  "api.set_agents_active": "works",
  "api.create_workflow": "works",
  "api.set_task_status": "works",
  "api.create_tenant": "works",
  "api.create_users": "works",
  "api.user_by_email": "works",
  "api.create_connector": "works",
  "api.create_collection": "works",
  "api.set_collection_status": "works",
  "api.create_session": "works",
  "api.touch_session": "works",
  "api.revoke_session": "works",
  "api.revoke_user_sessions": "works",
  "api.sync_documents": "works",
  "api.add_documents": "works",
  "api.replace_chunks": "works",
  "api.enqueue_operations": "works",
  "api.claim_operations": "works",
  "api.finish_operations": "works",
  "api.cancel_operations": "works",
  "api.purge_documents": "works",
};

/**
 * The api routines without p_tenant_id (DESIGN.md convention 12's listed exceptions): they
 * find their tenant otherwise (a session token) or make it (api.create_tenant), so Citus
 * cannot route them by argument; they run on the coordinator.
 */
export const TENANTLESS: readonly string[] = [
  "api.create_tenant",
  "api.revoke_session",
  "api.touch_session",
  "api.validate_session",
];
