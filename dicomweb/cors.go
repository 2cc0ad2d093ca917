package dicomweb

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// corsAllowHeaders are the request headers a browser viewer may send:
// OHIF sends Accept (with quoted parameters, which makes it non-simple) and
// Authorization; STOW from a browser sends Content-Type.
const corsAllowHeaders = "Accept, Authorization, Content-Type, X-Request-Id, Range, If-None-Match"

// corsExposeHeaders are response headers a browser script may read.
const corsExposeHeaders = "Content-Type, Content-Length, Content-Location, Location, Retry-After, Warning, X-Request-Id, ETag"

const corsAllowMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS"

// CORS returns a middleware that lets browser viewers on the listed origins
// (e.g. an OHIF deployment) use the API. "*" allows every origin. An empty
// list allows none: the middleware then adds nothing (same-origin use only).
//
// Install it on the engine (engine.Use), not on a route group: gin runs
// engine middleware for unmatched routes and methods too, so preflight
// OPTIONS requests for any path and 404/405 answers also carry the headers.
// Access-Control-Allow-Origin is set before the handler runs, so error
// responses carry it as well.
//
// An OPTIONS request is answered 204 by the middleware itself, allowing
// Accept, Authorization and Content-Type, cached for 10 minutes.
func CORS(origins []string) gin.HandlerFunc {
	any := false
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			any = true
		}
		if o != "" {
			allowed[strings.ToLower(o)] = true
		}
	}
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" || (!any && !allowed[strings.ToLower(origin)]) {
			c.Next()
			return
		}
		h := c.Writer.Header()
		// Echo the origin rather than "*" even when any origin is allowed:
		// browsers refuse "*" on credentialed requests (Authorization,
		// cookies). Vary keeps shared caches correct.
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if c.Request.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			allow := corsAllowHeaders
			if req := c.GetHeader("Access-Control-Request-Headers"); req != "" {
				// Echo what the browser asks for on top of the fixed list:
				// the caller is an allowed origin, and auth is checked per
				// request anyway.
				allow += ", " + req
			}
			h.Set("Access-Control-Allow-Headers", allow)
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
