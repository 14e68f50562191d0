/* gateway/main_entry.c: the portcullis binary. */
#include "main.h"

int main(int argc, char **argv)
{
    return pc_main(argc, argv);
}
