/* hidden: DF_HIDDEN, the mark of engine functions whose source file is also compiled into every
 * built-in plugin (engine/path.c, engine/suggest.c, engine/utf8_text.c; see DF_PLUGIN_COMMON_SRC
 * in CMakeLists.txt), so that there is one implementation of each. Plugins may use nothing of the
 * engine but <dagflow/taskunit.h>, so each carries its own copy; hidden visibility keeps these
 * functions out of the dagflow binary's exports and out of each plugin's, so that every copy binds
 * to itself and none can interpose another. Within one executable (the dagflow binary, the unit
 * tests) hidden functions link as usual. */
#ifndef DF_HIDDEN_H
#define DF_HIDDEN_H

#define DF_HIDDEN __attribute__((visibility("hidden")))

#endif
