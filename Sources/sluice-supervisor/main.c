// Placeholder: replaced by the real supervisor (docs/supervisor.md).
int main(void) { return 64; }
