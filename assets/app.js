document.addEventListener('click', function (event) {
  var link = event.target && event.target.closest ? event.target.closest('a.rag-cite') : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var href = link.getAttribute('href') || '';
  window.ragCiteKey = href.replace(/^.*#/, '');
  var button = document.getElementById('rag-cite-open');
  if (button) button.click();
  var panel = document.getElementById('rag-sources');
  if (panel && panel.scrollIntoView && window.innerWidth < 900) panel.scrollIntoView({behavior: 'smooth'});
}, true);
