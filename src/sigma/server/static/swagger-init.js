window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api-docs/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
