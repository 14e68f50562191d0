/* gateway/base/thread.c: the calling thread's worker id (see thread.h). */
#include "base/thread.h"

/* id + 1, so that a thread that never said anything reads as 0: no worker */
static _Thread_local unsigned thread_worker_plus1;

void pc_thread_set_worker(unsigned id)
{
    thread_worker_plus1 = id == PC_THREAD_NO_WORKER ? 0 : id + 1;
}

unsigned pc_thread_worker(void)
{
    return thread_worker_plus1 ? thread_worker_plus1 - 1 : PC_THREAD_NO_WORKER;
}
