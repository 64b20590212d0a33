// Body map: clicking (or pressing Enter on) a region fills the form's region and side without a page load.
"use strict";
(function () {
  window.StrideGuard = window.StrideGuard || {};
  window.StrideGuard.bodyMap = function (form) {
    var select = form.querySelector('select[name="region"]');
    function mark(region, side) {
      form.querySelectorAll(".bodymap .region").forEach(function (rect) {
        var link = rect.parentNode;
        var on = link.getAttribute("data-region") === region && (!side || link.getAttribute("data-side") === side);
        rect.classList.toggle("selected", on);
      });
    }
    form.querySelectorAll("a.region-link").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var region = link.getAttribute("data-region");
        var side = link.getAttribute("data-side");
        select.value = region;
        var radio = form.querySelector('input[name="side"][value="' + side + '"]');
        if (radio) { radio.checked = true; }
        mark(region, side);
        var first = form.querySelector('input[name="score"]:checked') || form.querySelector('input[name="score"]');
        if (first) { first.focus(); }
      });
    });
    select.addEventListener("change", function () { mark(select.value, null); });
  };
})();
