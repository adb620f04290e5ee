-- wrk script for `scripts/bench http`: every request is a POST with a JSON body, i.e. a trigger
-- (POST /sluice/api/v1/pipelines/quick/jobs). The Authorization header comes from wrk -H.
wrk.method = "POST"
wrk.body = '{"params":{}}'
wrk.headers["Content-Type"] = "application/json"
