# cmake/local.mk - the CMake package, included by the top-level Makefile.am.
#
# `make install` writes <libdir>/cmake/numaslab/numaslab-config.cmake and
# numaslab-config-version.cmake (imported target numaslab::numaslab) from
# the templates here; the project itself builds with Autotools only.

cmakepkgdir = $(libdir)/cmake/numaslab
EXTRA_DIST += cmake/numaslab-config.cmake.in cmake/numaslab-config-version.cmake.in \
	cmake/gen-config.sh

install-data-local: install-cmake-package
install-cmake-package:
	$(MKDIR_P) '$(DESTDIR)$(cmakepkgdir)'
	$(SHELL) $(srcdir)/cmake/gen-config.sh '$(srcdir)/cmake' '$(DESTDIR)$(cmakepkgdir)' \
		'$(prefix)' '$(libdir)' '$(includedir)' '$(VERSION)' '$(NSLAB_SIZEOF_VOID_P)' \
		'$(HWLOC_LIBS) $(NUMA_LIBS) -lpthread'

uninstall-local: uninstall-cmake-package
uninstall-cmake-package:
	rm -f '$(DESTDIR)$(cmakepkgdir)/numaslab-config.cmake' \
		'$(DESTDIR)$(cmakepkgdir)/numaslab-config-version.cmake'
	-rmdir '$(DESTDIR)$(cmakepkgdir)' '$(DESTDIR)$(libdir)/cmake' 2>/dev/null

.PHONY: install-cmake-package uninstall-cmake-package
