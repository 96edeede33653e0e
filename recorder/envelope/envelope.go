package envelope

import (
	"encoding/json"
	"net/http"
)

// JSON writes v as the whole answer, with status code.
func JSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Data answers 200 {"success":true,"data":data}.
func Data(w http.ResponseWriter, data any) {
	JSON(w, http.StatusOK, map[string]any{"success": true, "data": data})
}

// Error answers code {"success":false,"error":{"code":code,"message":msg}}.
func Error(w http.ResponseWriter, code int, msg string) {
	JSON(w, code, map[string]any{"success": false, "error": map[string]any{"code": code, "message": msg}})
}
