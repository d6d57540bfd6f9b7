package api

import (
	"net/http"
	"strings"

	"github.com/livekit/protocol/auth"
	"github.com/twitchtv/twirp"
)

// authenticate checks a request's access token as livekit-server does
// (service/auth.go): "Authorization: Bearer <token>" or the access_token
// query parameter, parsed with auth.ParseAPIToken and verified against the
// secret of its key; the Egress API then needs the roomRecord grant. The
// error is sent as is; it never quotes the token.
func authenticate(r *http.Request, keys auth.KeyProvider) twirp.Error {
	token := r.URL.Query().Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		var ok bool
		if token, ok = strings.CutPrefix(h, "Bearer "); !ok {
			return twirp.NewError(twirp.Unauthenticated, `the Authorization header must read "Bearer <access token>"`)
		}
	}
	if token == "" {
		return twirp.NewError(twirp.Unauthenticated, "no access token: send Authorization: Bearer <token>, a LiveKit access token with the roomRecord grant")
	}
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		return twirp.NewError(twirp.Unauthenticated, "the access token is not a valid JWT")
	}
	secret := keys.GetSecret(v.APIKey())
	if secret == "" {
		return twirp.NewErrorf(twirp.Unauthenticated, "the access token is signed with API key %q, which this server does not know", v.APIKey())
	}
	_, grants, err := v.Verify(secret)
	if err != nil {
		// jwt's messages ("token is expired", "signature is invalid")
		// name the fault without quoting the token.
		return twirp.NewErrorf(twirp.Unauthenticated, "the access token does not verify: %v", err)
	}
	if grants == nil || grants.Video == nil || !grants.Video.RoomRecord {
		return twirp.NewError(twirp.PermissionDenied, "the access token lacks the roomRecord video grant that the Egress API requires")
	}
	return nil
}
