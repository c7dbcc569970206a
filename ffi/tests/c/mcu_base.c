volatile unsigned sink;
int main(void) { sink = 1; return 0; }
