# Writes OUT: a C file defining `const char <PREFIX><name>[]` for each .sql file in FILES
# ('|'-separated paths); PREFIX defaults to df_sql_ (store/sqlite/), the PostgreSQL backend's
# files use df_pgsql_ (store/pg/).
string(REPLACE "|" ";" FILES "${FILES}")
if(NOT DEFINED PREFIX)
  set(PREFIX df_sql_)
endif()
set(body "/* generated from the store's SQL files by store/sqlite/embed_sql.cmake; do not edit */\n")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  string(REPLACE "\n" "\\n\"\n\"" text "${text}")
  string(APPEND body "const char ${PREFIX}${name}[] = \"${text}\";\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
