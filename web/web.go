// Package web serves the pages the binary ships: the bundled test page and
// ctibus.js, the browser client that widgets import.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// clientPath is where the browser client is served, and declarationsPath
// its TypeScript declarations.
const (
	clientPath       = "/ctibus.js"
	declarationsPath = "/ctibus.d.ts"
	adminPath        = "/admin" // the operator's view, admin.html
)

// contentSecurityPolicy is the Content-Security-Policy of every file
// served: pages of this origin only may frame them.
const contentSecurityPolicy = "frame-ancestors 'self'"

// Handler serves the embedded files, with index.html at "/" and the
// operator's view, admin.html, at "/admin". ctibus.js may be
// imported by a page of any origin: a module script from another origin
// needs CORS, and the file is public. Whether that page may then open a
// WebSocket is the bus's origin check, not this header.
func Handler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The test page signs agents in: no other site may frame it (to
		// trick an agent into clicking), and no response may be sniffed
		// into a type other than the one it declares.
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch r.URL.Path {
		case adminPath:
			// Served by its own name, so that its relative links resolve
			// beside the test page's, as /admin.html's do.
			w.Header().Set("Cache-Control", "no-store")
			http.ServeFileFS(w, r, root, "admin.html")
			return
		case clientPath:
			w.Header().Set("Access-Control-Allow-Origin", "*")
		case declarationsPath:
			// Not the system's guess for .ts (MPEG transport streams, Qt
			// translations): the declarations are TypeScript source.
			w.Header().Set("Content-Type", "application/typescript; charset=utf-8")
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		files.ServeHTTP(w, r)
	})
}
