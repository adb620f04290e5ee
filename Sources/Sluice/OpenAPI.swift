import Foundation

/// The OpenAPI 3.1 description of the JSON API, served at `/api/v1/openapi.json`.
///
/// Written by hand, next to the routes it describes; `OpenAPITests` fails when a JSON route is
/// added, removed or changes its methods without this document following.
enum OpenAPI {
    /// The document, with `serverURL` (the mount path) as its server.
    static func document(serverURL: String) -> String {
        let server = serverURL.isEmpty ? "/" : serverURL
        return #"""
            {
              "openapi": "3.1.0",
              "info": {
                "title": "Sluice",
                "version": "1",
                "description": "Trigger and watch pipelines. Every path needs an identity (lighttpd REMOTE_USER, a signed assertion, trusted proxy headers or a service token) except /healthz and this document."
              },
              "servers": [{"url": "\#(JSONText.escape(server))"}],
              "security": [{"basic": []}, {"bearer": []}],
              "paths": {
                "/healthz": {
                  "get": {
                    "operationId": "health", "security": [],
                    "responses": {
                      "200": {"description": "Serving", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                      "503": {"description": "Stopping", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
                    }
                  }
                },
                "/metrics": {
                  "get": {
                    "operationId": "metrics",
                    "description": "Prometheus text format (0.0.4). Readable without identity from server.metrics_peers, else with the admin verb.",
                    "responses": {
                      "200": {"description": "The metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/openapi.json": {
                  "get": {"operationId": "openapi", "security": [], "responses": {"200": {"description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}}}
                },
                "/api/v1/whoami": {
                  "get": {
                    "operationId": "whoami",
                    "responses": {
                      "200": {"description": "Who you are and what you may do", "content": {"application/json": {"schema": {"type": "object", "required": ["user", "source"], "properties": {"user": {"type": "string"}, "source": {"type": "string"}}}}}},
                      "401": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/pipelines": {
                  "get": {
                    "operationId": "listPipelines",
                    "responses": {
                      "200": {"description": "Pipelines you may view", "content": {"application/json": {"schema": {"type": "object", "required": ["pipelines"], "properties": {"pipelines": {"type": "array", "items": {"$ref": "#/components/schemas/Pipeline"}}}}}}},
                      "401": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/pipelines/{name}": {
                  "parameters": [{"$ref": "#/components/parameters/PipelineName"}],
                  "get": {
                    "operationId": "showPipeline",
                    "responses": {
                      "200": {"description": "The pipeline with its parameter schema", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pipeline"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/pipelines/{name}/jobs": {
                  "parameters": [{"$ref": "#/components/parameters/PipelineName"}],
                  "post": {
                    "operationId": "trigger",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "array"]}}}}}}},
                    "responses": {
                      "200": {"description": "An existing job answers (same Idempotency-Key, or on_duplicate: return_existing)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "202": {"description": "Job created and committed", "headers": {"Location": {"schema": {"type": "string"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"},
                      "413": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"},
                      "422": {"$ref": "#/components/responses/Error"},
                      "429": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/jobs": {
                  "get": {
                    "operationId": "listJobs",
                    "parameters": [
                      {"name": "pipeline", "in": "query", "schema": {"type": "string"}},
                      {"name": "state", "in": "query", "description": "Comma-separated job states", "schema": {"type": "string"}},
                      {"name": "user", "in": "query", "schema": {"type": "string"}},
                      {"name": "from", "in": "query", "description": "Created at or after (date or date-time with zone)", "schema": {"type": "string"}},
                      {"name": "until", "in": "query", "description": "Created before (date or date-time with zone)", "schema": {"type": "string"}},
                      {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["newest", "oldest"]}},
                      {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                      {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                      {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
                    ],
                    "responses": {
                      "200": {"description": "A page of jobs", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobList"}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/jobs/{id}": {
                  "parameters": [{"$ref": "#/components/parameters/JobID"}],
                  "get": {
                    "operationId": "showJob",
                    "parameters": [
                      {"name": "wait", "in": "query", "description": "Long-poll: wait up to this many seconds until the job differs from If-None-Match (or from now)", "schema": {"type": "integer", "minimum": 0, "maximum": 60}},
                      {"name": "tasks", "in": "query", "description": "Page of tasks: only tasks in these states (comma-separated); adds task_counts and task_page. With wait, the long-poll compares that page, task_counts and task_page.attempts", "schema": {"type": "string"}},
                      {"name": "task_limit", "in": "query", "description": "Page of tasks: at most this many (default 1000)", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                      {"name": "task_cursor", "in": "query", "description": "Page of tasks: task_page.next_cursor of the previous page", "schema": {"type": "integer", "minimum": 0}},
                      {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
                    ],
                    "responses": {
                      "200": {"description": "The job with its tasks", "headers": {"ETag": {"schema": {"type": "string"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "304": {"description": "Unchanged since If-None-Match"},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "503": {"description": "With ?wait: too many requests are waiting already; poll again after Retry-After", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                    }
                  }
                },
                "/api/v1/jobs/{id}/cancel": {
                  "parameters": [{"$ref": "#/components/parameters/JobID"}],
                  "post": {
                    "operationId": "cancelJob",
                    "requestBody": {"required": false, "description": "Callers authenticated by browser credentials (basic auth) must send Content-Type: application/json (415 otherwise); an empty object will do", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                      "200": {"description": "Already finished", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "202": {"description": "Cancel recorded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/jobs/{id}/retry": {
                  "parameters": [{"$ref": "#/components/parameters/JobID"}],
                  "post": {
                    "operationId": "retryJob",
                    "requestBody": {"required": false, "description": "Callers authenticated by browser credentials (basic auth) must send Content-Type: application/json (415 otherwise); an empty object will do", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                      "202": {"description": "Failed, skipped and cancelled tasks queued again", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/jobs/{id}/approve": {
                  "parameters": [{"$ref": "#/components/parameters/JobID"}],
                  "post": {
                    "operationId": "approveJob",
                    "description": "Needs the approve verb. One approval of a job awaiting approval; the job is queued with the last approval it needs. 403 for the person who triggered it; 409 if it does not await approval or the caller has decided before.",
                    "requestBody": {"required": false, "description": "Optional; callers authenticated by browser credentials (basic auth) must send Content-Type: application/json (415 otherwise)", "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"comment": {"type": "string", "maxLength": 1000}}}}}},
                    "responses": {
                      "200": {"description": "The job after the decision", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"},
                      "413": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/jobs/{id}/reject": {
                  "parameters": [{"$ref": "#/components/parameters/JobID"}],
                  "post": {
                    "operationId": "rejectJob",
                    "description": "Needs the approve verb. Rejects a job awaiting approval: it ends rejected and nothing runs. 409 if it does not await approval or the caller has decided before.",
                    "requestBody": {"required": false, "description": "Optional; callers authenticated by browser credentials (basic auth) must send Content-Type: application/json (415 otherwise)", "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"comment": {"type": "string", "maxLength": 1000}}}}}},
                    "responses": {
                      "200": {"description": "The job after the decision", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"},
                      "413": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/jobs/{id}/tasks/{task}/log": {
                  "parameters": [{"$ref": "#/components/parameters/JobID"}, {"name": "task", "in": "path", "required": true, "schema": {"type": "string"}}],
                  "get": {
                    "operationId": "taskLog",
                    "parameters": [
                      {"name": "attempt", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                      {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                      {"name": "download", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {
                      "200": {"description": "Log bytes from offset (at most 1 MiB)", "headers": {"X-Log-Next-Offset": {"schema": {"type": "integer"}}, "X-Log-Complete": {"schema": {"type": "string", "enum": ["true", "false"]}}}, "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/audit": {
                  "get": {
                    "operationId": "auditLog",
                    "parameters": [
                      {"name": "pipeline", "in": "query", "schema": {"type": "string"}},
                      {"name": "user", "in": "query", "schema": {"type": "string"}},
                      {"name": "event", "in": "query", "schema": {"type": "string"}},
                      {"name": "decision", "in": "query", "schema": {"type": "string", "enum": ["allow", "deny"]}},
                      {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                      {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {
                      "200": {"description": "Audit records, newest first", "content": {"application/json": {"schema": {"type": "object", "required": ["records"], "properties": {"records": {"type": "array", "items": {"type": "object"}}, "next_before": {"type": "integer"}}}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/admin/drain": {
                  "get": {
                    "operationId": "drainStatus",
                    "description": "Needs the admin verb.",
                    "responses": {
                      "200": {"description": "Whether Sluice drains, and what still runs", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Drain"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"}
                    }
                  },
                  "post": {
                    "operationId": "startDrain",
                    "description": "Needs the admin verb. Starts draining (again: nothing changes): no new job starts, triggers are still accepted and queue, running jobs go on. exit_when_drained true: Sluice exits once nothing runs; false: cancels a planned exit; absent: leaves the plan as it is.",
                    "requestBody": {"required": false, "description": "Callers authenticated by browser credentials (basic auth) must send Content-Type: application/json (415 otherwise); an empty object will do", "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"exit_when_drained": {"type": "boolean"}}}}}},
                    "responses": {
                      "200": {"description": "Draining", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Drain"}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"},
                      "413": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"}
                    }
                  },
                  "delete": {
                    "operationId": "endDrain",
                    "description": "Needs the admin verb. Ends draining (queued jobs start) and cancels a planned exit; 409 once Sluice has drained with an exit planned and is stopping.",
                    "responses": {
                      "200": {"description": "Not draining", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Drain"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/admin/deliveries": {
                  "get": {
                    "operationId": "listDeliveries",
                    "description": "Needs the admin verb. Webhook deliveries (one per job event and webhook), newest first, without their bodies.",
                    "parameters": [
                      {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["pending", "delivered", "failed"]}},
                      {"name": "pipeline", "in": "query", "schema": {"type": "string"}},
                      {"name": "job", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                      {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                      {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
                    ],
                    "responses": {
                      "200": {"description": "Deliveries", "content": {"application/json": {"schema": {"type": "object", "required": ["deliveries"], "properties": {"deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}}, "next_before": {"type": "integer"}}}}}},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"}
                    }
                  }
                },
                "/api/v1/admin/deliveries/{id}/redeliver": {
                  "post": {
                    "operationId": "redeliver",
                    "description": "Needs the admin verb. Makes a failed or pending delivery due now for one more attempt, under the same delivery id. 409 for a delivered one.",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
                    "requestBody": {"required": false, "description": "Callers authenticated by browser credentials (basic auth) must send Content-Type: application/json (415 otherwise); an empty object will do", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                      "202": {"description": "Due now", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Delivery"}}}},
                      "401": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"},
                      "415": {"$ref": "#/components/responses/Error"}
                    }
                  }
                }
              },
              "components": {
                "securitySchemes": {
                  "basic": {"type": "http", "scheme": "basic", "description": "Checked by lighttpd (REMOTE_USER)"},
                  "bearer": {"type": "http", "scheme": "bearer", "description": "A service token (slc_...) or a signed identity assertion"}
                },
                "parameters": {
                  "PipelineName": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                  "JobID": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}
                },
                "responses": {
                  "Error": {"description": "An error, in the one shape every JSON error has", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                },
                "schemas": {
                  "Delivery": {"type": "object", "required": ["id", "event_id", "job_id", "pipeline", "webhook", "event", "state", "attempts", "created_at"], "properties": {
                    "id": {"type": "integer"}, "event_id": {"type": "integer"}, "job_id": {"type": "integer"}, "pipeline": {"type": "string"}, "webhook": {"type": "string"},
                    "event": {"type": "string", "enum": ["job.started", "job.succeeded", "job.failed", "job.cancelled", "job.awaiting_approval", "job.rejected", "job.expired"]},
                    "state": {"type": "string", "enum": ["pending", "delivered", "failed"]}, "attempts": {"type": "integer", "minimum": 0},
                    "created_at": {"type": "string", "format": "date-time"}, "next_attempt_at": {"type": "string", "format": "date-time"},
                    "last_attempt_at": {"type": "string", "format": "date-time"}, "last_status": {"type": "integer"}, "last_error": {"type": "string"}}},
                  "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["status", "message"], "properties": {
                      "status": {"type": "integer"}, "message": {"type": "string"},
                      "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}
                  },
                  "Health": {"type": "object", "required": ["status", "config"], "properties": {
                    "status": {"type": "string", "enum": ["ok", "degraded", "draining", "stopping"]}, "config": {"type": "string"}, "store": {"type": "string", "enum": ["sqlite", "postgres"]}, "storage_errors": {"type": "integer", "minimum": 0},
                    "draining": {"type": "boolean"}, "exit_when_drained": {"type": "boolean"}, "active_jobs": {"type": "integer", "minimum": 0}, "running_tasks": {"type": "integer", "minimum": 0},
                    "host": {"type": "object", "required": ["id", "lease"], "properties": {
                      "id": {"type": "string"}, "lease": {"type": "string", "enum": ["held", "none"]}, "epoch": {"type": "integer", "minimum": 1},
                      "lease_valid_seconds": {"type": "integer", "minimum": 0}}}}},
                  "Drain": {"type": "object", "additionalProperties": false, "required": ["draining", "active_jobs", "running_tasks", "exit_when_drained"], "properties": {
                    "draining": {"type": "boolean"}, "active_jobs": {"type": "integer", "minimum": 0}, "running_tasks": {"type": "integer", "minimum": 0}, "exit_when_drained": {"type": "boolean"}}},
                  "Pipeline": {
                    "type": "object", "required": ["name", "description", "params", "tasks", "verbs", "on_duplicate"],
                    "properties": {
                      "name": {"type": "string"}, "description": {"type": "string"},
                      "params": {"type": "array", "items": {"type": "object", "required": ["name", "type", "required", "description", "secret", "significant"], "properties": {
                        "name": {"type": "string"}, "type": {"type": "string", "enum": ["string", "int", "float", "bool", "date", "datetime", "choice", "list"]},
                        "required": {"type": "boolean"}, "default": {"type": "string"}, "description": {"type": "string"},
                        "min": {"type": "number"}, "max": {"type": "number"}, "min_length": {"type": "integer"}, "max_length": {"type": "integer"},
                        "values": {"type": "array", "items": {"type": "string"}}, "max_items": {"type": "integer"}, "pattern": {"type": "string"},
                        "secret": {"type": "boolean"}, "significant": {"type": "boolean"}}}},
                      "tasks": {"type": "array", "items": {"type": "object", "required": ["name", "needs", "kind", "retries"], "properties": {
                        "name": {"type": "string"}, "needs": {"type": "array", "items": {"type": "string"}}, "kind": {"type": "string", "enum": ["command", "noop"]},
                        "retries": {"type": "integer"}, "timeout_seconds": {"type": "number"}, "resources": {"type": "object", "additionalProperties": {"type": "integer"}}}}},
                      "verbs": {"type": "array", "items": {"type": "string"}},
                      "concurrency": {"type": "integer"}, "queue_limit": {"type": "integer"},
                      "on_duplicate": {"type": "string", "enum": ["return_existing", "queue", "reject", "allow"]},
                      "schedules": {"type": "array", "items": {"type": "object", "required": ["name", "cron", "time_zone", "params", "missed", "principal", "next_runs"], "properties": {
                        "name": {"type": "string"}, "cron": {"type": "string"}, "time_zone": {"type": "string"},
                        "params": {"type": "object", "additionalProperties": {"type": "string"}}, "missed": {"type": "string", "enum": ["latest", "none", "all"]},
                        "catch_up_limit": {"type": "integer"}, "principal": {"type": "string"},
                        "next_runs": {"type": "array", "items": {"type": "string", "format": "date-time"}}}}},
                      "approval": {"type": "object", "required": ["required", "expire_after_minutes"], "properties": {
                        "required": {"type": "integer", "minimum": 1}, "expire_after_minutes": {"type": "integer", "minimum": 1}}}
                    }
                  },
                  "Task": {
                    "type": "object", "required": ["name", "state", "needs", "kind", "attempt", "max_attempts"],
                    "properties": {
                      "name": {"type": "string"}, "state": {"$ref": "#/components/schemas/TaskState"},
                      "needs": {"type": "array", "items": {"type": "string"}}, "kind": {"type": "string", "enum": ["command", "noop"]},
                      "attempt": {"type": "integer", "minimum": 0}, "max_attempts": {"type": "integer", "minimum": 1},
                      "exit_code": {"type": "integer"}, "message": {"type": "string"},
                      "started_at": {"type": "string", "format": "date-time"}, "finished_at": {"type": "string", "format": "date-time"},
                      "retry_at": {"type": "string", "format": "date-time"},
                      "past_attempts": {"type": "array", "description": "Attempts before the latest, oldest first; absent when there were none.",
                        "items": {"type": "object", "required": ["attempt", "state", "started_at"], "properties": {
                          "attempt": {"type": "integer", "minimum": 1}, "state": {"type": "string", "enum": ["failed", "cancelled"]},
                          "started_at": {"type": "string", "format": "date-time"}, "finished_at": {"type": "string", "format": "date-time"},
                          "exit_code": {"type": "integer"}, "message": {"type": "string"}}}}
                    }
                  },
                  "TaskState": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "skipped", "cancelled"]},
                  "Job": {
                    "type": "object", "required": ["id", "pipeline", "state", "triggered_by", "identity_source", "params", "secret_params", "cancel_requested", "created_at", "links"],
                    "properties": {
                      "id": {"type": "integer"}, "pipeline": {"type": "string"},
                      "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled", "awaiting_approval", "rejected", "expired"]},
                      "approval": {"type": "object", "required": ["required", "expires_at"], "properties": {
                        "required": {"type": "integer", "minimum": 1}, "expires_at": {"type": "string", "format": "date-time"},
                        "decisions": {"type": "array", "items": {"type": "object", "required": ["approver", "identity_source", "decision", "comment", "at"], "properties": {
                          "approver": {"type": "string"}, "identity_source": {"type": "string"}, "decision": {"type": "string", "enum": ["approve", "reject"]},
                          "comment": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}}}}},
                      "triggered_by": {"type": "string"}, "identity_source": {"type": "string"},
                      "params": {"type": "object", "additionalProperties": {"type": "string"}},
                      "task_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                      "task_page": {"type": "object", "required": ["matching", "attempts"], "properties": {"matching": {"type": "integer"}, "next_cursor": {"type": "integer"}, "attempts": {"type": "integer", "description": "Attempts started over all the job's tasks"}}},
                      "secret_params": {"type": "array", "items": {"type": "string"}},
                      "cancel_requested": {"type": "boolean"},
                      "created_at": {"type": "string", "format": "date-time"}, "started_at": {"type": "string", "format": "date-time"},
                      "finished_at": {"type": "string", "format": "date-time"},
                      "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
                      "links": {"type": "object", "required": ["self", "html"], "properties": {"self": {"type": "string"}, "html": {"type": "string"}}}
                    }
                  },
                  "JobList": {
                    "type": "object", "required": ["jobs"],
                    "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}, "next_before": {"type": "integer"}, "next_after": {"type": "integer"}}
                  }
                }
              }
            }

            """#
    }
}

/// Escaping for a string placed inside a JSON string literal.
enum JSONText {
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
