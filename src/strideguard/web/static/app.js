// StrideGuard: small progressive enhancements. Every page works without this file.
"use strict";
(function () {
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.StrideGuard = { csrf: csrf };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-module]").forEach(function (el) {
      var init = window.StrideGuard[el.getAttribute("data-module")];
      if (typeof init === "function") { init(el); }
    });
  });
})();
