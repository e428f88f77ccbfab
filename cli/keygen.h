/* keygen — `spar keygen [--out DIR] NAME...`: a new CURVE key pair per name, DIR/NAME.key (the
 * secret, mode 0600) and DIR/NAME.pub, for security.curve. Never overwrites a key. */
#ifndef SPAR_KEYGEN_H
#define SPAR_KEYGEN_H

int keygen_main(int argc, char **argv);

#endif
