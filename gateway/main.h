/* gateway/main.h: the program, callable from a test binary that registers
 * extra plugin types first. */
#ifndef PC_MAIN_H
#define PC_MAIN_H

int pc_main(int argc, char **argv);

#endif
