# Turns the file IN into a C source OUT defining `const char spar_quickstart_yaml[]`.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from configs/quickstart.yaml */\nconst char spar_quickstart_yaml[] = {${body}0x00};\n")
