#ifndef CPOSTGRES_SHIM_H
#define CPOSTGRES_SHIM_H
#include <libpq-fe.h>

// The PG_DIAG_* field codes are character-literal macros ('C', 'M', ...), which Swift does not
// import: these return them for PQresultErrorField.
static inline int cpostgres_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int cpostgres_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int cpostgres_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int cpostgres_diag_constraint_name(void) { return PG_DIAG_CONSTRAINT_NAME; }
#endif
